"""The one place redis exceptions become our StoreError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisClusterException, RedisError

from services.errors import StoreError

# Everything redis-py raises: RedisError, and the cluster client's own tree (a slot no node
# serves, a cross-slot pipeline), which does not derive from RedisError.
REDIS_FAILURES: tuple[type[Exception], ...] = (RedisError, RedisClusterException)


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """Run a Redis call, turning any redis failure into StoreError naming what we tried."""
    try:
        yield
    except REDIS_FAILURES as exc:
        raise StoreError(f"the store failed while {what}: {type(exc).__name__}") from exc
    except OSError as exc:  # a socket error that redis-py did not wrap
        raise StoreError(f"the store failed while {what}: {type(exc).__name__}") from exc
