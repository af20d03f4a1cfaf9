"""Contract suites run every store port against the Redis adapter and the in-memory fake."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from bot.stores.keys import Keys
from tests.fakes.clock import FakeClock


@dataclass
class Backend:
    """Which implementation a contract test runs on, and how to let time pass for it."""

    name: str
    redis: Redis | None
    keys: Keys
    clock: FakeClock

    async def pass_time(self, seconds: float) -> None:
        # Redis expires keys by its own clock; the fakes by the FakeClock.
        if self.redis is not None:
            await asyncio.sleep(seconds)
        else:
            self.clock.advance(seconds=seconds)


@pytest.fixture(params=["redis", "memory"])
def backend(request: pytest.FixtureRequest, clock: FakeClock) -> Backend:
    keys = Keys("contract:")
    if request.param == "redis":
        redis: Redis = request.getfixturevalue("redis")
        return Backend("redis", redis, keys, clock)
    return Backend("memory", None, keys, clock)
