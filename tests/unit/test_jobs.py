"""Jobs take a lease, so two runners sharing a store run a job once per interval."""

from __future__ import annotations

from bot.jobs import Job, JobRunner
from bot.metrics import Metrics
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
