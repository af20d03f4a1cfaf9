"""The shared pacing slots on one Redis server and on a Redis Cluster: each lane's slots an
interval apart whoever takes them, lanes apart from each other, nothing left once idle."""

from __future__ import annotations

import asyncio

import pytest

from bot.stores.client import RedisClient
from bot.stores.keys import Keys
from bot.stores.pacing import RedisPaceSlots

KEYS = Keys("contract:")


@pytest.fixture(params=["redis", "cluster_redis"])
def store(request: pytest.FixtureRequest) -> RedisClient:
    client: RedisClient = request.getfixturevalue(request.param)
    return client


async def test_a_lanes_slots_are_an_interval_apart_for_every_process(store: RedisClient) -> None:
    # Two processes: two adapters over one store.
    one, two = RedisPaceSlots(store, KEYS), RedisPaceSlots(store, KEYS)
    # A wait is counted from the moment of asking, so the time between the calls (long on a
    # busy machine) comes off it: long intervals keep that small beside what is checked.
    waits = [
        await one.reserve("post:C1", 20, 0),
        await two.reserve("post:C1", 20, 0),
        await one.reserve("post:C1", 20, 0),
    ]
    assert waits[0] == 0
    assert 15 < waits[1] <= 20
    assert 35 < waits[2] <= 40
    # Another lane keeps its own pace.
    assert await two.reserve("post:C2", 20, 0) == 0
    assert await two.reserve("chat.update", 20, 0) == 0


async def test_a_slot_waits_for_not_before_and_the_next_counts_from_it(
    store: RedisClient,
) -> None:
    slots = RedisPaceSlots(store, KEYS)
    assert 15 < await slots.reserve("post:C1", 10, 20) <= 20
    assert 25 < await slots.reserve("post:C1", 10, 0) <= 30


async def test_an_idle_lane_leaves_nothing_behind(store: RedisClient) -> None:
    slots = RedisPaceSlots(store, KEYS)
    await slots.reserve("post:C1", 0.1, 0)
    assert await store.exists(KEYS.pace("post:C1")) == 1
    await asyncio.sleep(0.2)
    assert await store.exists(KEYS.pace("post:C1")) == 0
    assert await slots.reserve("post:C1", 0.1, 0) == 0
