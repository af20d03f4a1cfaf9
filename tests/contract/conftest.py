"""Contract suites run every store port against the Redis adapter (on one Redis server and on a
Redis Cluster of 3 masters and 3 replicas) and against the in-memory fake."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection

from bot.stores.client import RedisClient
from bot.stores.keys import Keys
from tests.fakes.clock import FakeClock


@dataclass
class Backend:
    """Which implementation a contract test runs on, and how to let time pass for it."""

    name: str
    redis: RedisClient | None
    keys: Keys
    clock: FakeClock

    async def pass_time(self, seconds: float) -> None:
        # Redis expires keys by its own clock; the fakes by the FakeClock.
        if self.redis is not None:
            await asyncio.sleep(seconds)
        else:
            self.clock.advance(seconds=seconds)


@pytest.fixture(params=["redis", "cluster", "memory"])
def backend(request: pytest.FixtureRequest, clock: FakeClock) -> Backend:
    keys = Keys("contract:")
    if request.param == "memory":
        return Backend("memory", None, keys, clock)
    fixture = {"redis": "redis", "cluster": "cluster_redis"}[request.param]
    return Backend(request.param, request.getfixturevalue(fixture), keys, clock)


@dataclass
class RoundTrips:
    """How many times this process wrote to Redis: once a command, once a whole pipeline (once
    a node, on a cluster). What keeps a store fast is how few of these a call makes."""

    count: int = 0


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> RoundTrips:
    """Counts round trips from here on, on every redis-py connection of this process."""
    trips = RoundTrips()
    send = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        trips.count += 1
        await send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return trips
