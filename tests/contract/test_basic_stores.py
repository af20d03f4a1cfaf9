"""Contract of the foundation ports (leases, idempotency keys) on Redis and on the fake."""

from __future__ import annotations

import asyncio

from bot.stores.basic import RedisLeases, RedisOnceKeys
from services.ports import Leases, OnceKeys
from tests.contract.conftest import Backend
from tests.fakes.stores import MemoryLeases, MemoryOnceKeys


def make_leases(backend: Backend) -> Leases:
    if backend.redis is not None:
        return RedisLeases(backend.redis, backend.keys)
    return MemoryLeases(backend.clock)


def make_once(backend: Backend) -> OnceKeys:
    if backend.redis is not None:
        return RedisOnceKeys(backend.redis, backend.keys)
    return MemoryOnceKeys(backend.clock)


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


async def test_first_claim_wins(backend: Backend) -> None:
    once = make_once(backend)
    results = await asyncio.gather(*(once.claim("submit:AR-1", 60) for _ in range(20)))
    assert results.count(True) == 1
    assert not await once.claim("submit:AR-1", 60)
    assert await once.claim("submit:AR-2", 60)


async def test_forget_allows_a_new_claim(backend: Backend) -> None:
    once = make_once(backend)
    assert await once.claim("k", 60)
    await once.forget("k")
    assert await once.claim("k", 60)


async def test_claim_expires(backend: Backend) -> None:
    once = make_once(backend)
    assert await once.claim("k", 0.2)
    await backend.pass_time(0.35)
    assert await once.claim("k", 60)
