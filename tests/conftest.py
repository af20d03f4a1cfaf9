"""Shared fixtures: one throwaway redis-server per test session, flushed before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from bot.stores.client import RedisClient, connect_redis, redis_endpoint
from testkit.redis_cluster import ThrowawayCluster, throwaway_cluster
from testkit.redis_server import throwaway_redis
from tests.fakes.clock import FakeClock


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with throwaway_redis() as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ThrowawayCluster]:
    """One throwaway Redis Cluster (3 masters, 3 replicas) per session, started on first use."""
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture
async def cluster_redis(redis_cluster: ThrowawayCluster) -> AsyncIterator[RedisClient]:
    """A cluster client on the session's cluster, every master flushed before the test."""
    client = connect_redis(redis_endpoint(redis_cluster.url))
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- fake Slack Web API (appended; the import sits here so the lines above stay untouched)
from emulators.slack import FakeSlack  # noqa: E402


@pytest.fixture
async def fake_slack(clock: FakeClock) -> AsyncIterator[FakeSlack]:
    """A started fake Slack Web API on 127.0.0.1, sharing the test's movable clock."""
    async with FakeSlack(clock=clock) as slack:
        yield slack
