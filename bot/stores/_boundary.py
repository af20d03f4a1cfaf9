"""The one place redis exceptions become our StoreError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from services.errors import StoreError


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """Run a Redis call, turning any redis failure into StoreError naming what we tried."""
    try:
        yield
    except RedisError as exc:
        raise StoreError(f"the store failed while {what}: {type(exc).__name__}") from exc
    except OSError as exc:  # a socket error that redis-py did not wrap
        raise StoreError(f"the store failed while {what}: {type(exc).__name__}") from exc
