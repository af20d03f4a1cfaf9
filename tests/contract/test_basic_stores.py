"""Contract of the foundation lease port on Redis and on the fake."""

from __future__ import annotations

import asyncio

from bot.stores.basic import RedisLeases
from services.ports import Leases
from tests.contract.conftest import Backend
from tests.fakes.stores import MemoryLeases


def make_leases(backend: Backend) -> Leases:
    if backend.redis is not None:
        return RedisLeases(backend.redis, backend.keys)
    return MemoryLeases(backend.clock)


async def test_one_holder_at_a_time(backend: Backend) -> None:
    leases = make_leases(backend)
    assert await leases.acquire("job", "a", 5)
    assert not await leases.acquire("job", "b", 5)
    assert await leases.acquire("job", "a", 5), "the holder may extend its lease"


async def test_release_only_by_holder(backend: Backend) -> None:
    leases = make_leases(backend)
    assert await leases.acquire("job", "a", 5)
    assert not await leases.release("job", "b")
    assert not await leases.acquire("job", "b", 5)
    assert await leases.release("job", "a")
    assert await leases.acquire("job", "b", 5)


async def test_lease_expires(backend: Backend) -> None:
    leases = make_leases(backend)
    assert await leases.acquire("job", "a", 0.2)
    await backend.pass_time(0.35)
    assert await leases.acquire("job", "b", 5)


async def test_concurrent_acquire_has_one_winner(backend: Backend) -> None:
    leases = make_leases(backend)
    results = await asyncio.gather(*(leases.acquire("job", f"owner{i}", 5) for i in range(20)))
    assert results.count(True) == 1
