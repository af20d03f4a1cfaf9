"""Jobs take a lease, so two runners sharing a store run a job once per interval."""

from __future__ import annotations

import asyncio

from bot.jobs import Job, JobRunner
from bot.metrics import Metrics
from bot.stores.basic import RedisLeases
from bot.stores.client import connect_redis, redis_endpoint
from bot.stores.keys import Keys
from services.errors import StoreError
from tests.fakes.clock import FakeClock
from tests.fakes.stores import MemoryLeases


async def test_two_runners_one_run() -> None:
    clock = FakeClock()
    leases = MemoryLeases(clock)
    runs: list[str] = []

    async def tick() -> None:
        runs.append("tick")

    job = Job("tick", 60, tick)
    first, second = JobRunner(leases, Metrics()), JobRunner(leases, Metrics())
    assert await first.run_once(job)
    assert not await second.run_once(job)
    assert runs == ["tick"]
    clock.advance(seconds=91)  # the lease (1.5 intervals) ran out: the other runner may take over
    assert await second.run_once(job)
    assert runs == ["tick", "tick"]


async def test_a_failing_job_is_counted_not_raised() -> None:
    async def broken() -> None:
        raise StoreError("down")

    metrics = Metrics()
    runner = JobRunner(MemoryLeases(FakeClock()), metrics)
    assert await runner.run_once(Job("broken", 5, broken))
    assert b'approvals_job_runs_total{job="broken",outcome="failed"} 1.0' in metrics.render()


async def test_a_long_run_keeps_its_lease_and_a_lost_lease_stops_it(redis_url: str) -> None:
    redis = connect_redis(redis_endpoint(redis_url))
    await redis.flushdb()
    leases = RedisLeases(redis, Keys("jobs-test:"))
    metrics = Metrics()
    first, second = JobRunner(leases, metrics), JobRunner(leases, Metrics())
    started, release, stopped = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        try:
            await release.wait()
        finally:
            stopped.set()

    job = Job("slow", 0.4, slow)  # a 0.6 s lease, renewed every 0.2 s
    running = asyncio.create_task(first.run_once(job))
    await started.wait()
    for _ in range(10):  # 1.5 s: several leases long
        # (Were the lease lost, this would start a second run, which never ends.)
        taken = await asyncio.wait_for(second.run_once(job), timeout=2)
        assert not taken, "the lease ran out under a live run"
        await asyncio.sleep(0.15)
    assert not stopped.is_set()

    # Another process holds it now (as after a long pause here): the run stops.
    await redis.set(Keys("jobs-test:").lease("job:slow"), "someone-else")
    assert await asyncio.wait_for(running, timeout=5)
    assert stopped.is_set() and not release.is_set()
    assert b'approvals_job_runs_total{job="slow",outcome="lost"} 1.0' in metrics.render()
    await redis.aclose()
