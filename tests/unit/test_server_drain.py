"""On SIGTERM the server waits for work started while serving, not for its long-lived tasks."""

from __future__ import annotations

import asyncio

from bot.server import drain_background_work


async def test_drain_waits_for_work_started_while_serving_but_not_for_long_lived_tasks() -> None:
    forever = asyncio.create_task(asyncio.Event().wait(), name="lives-as-long-as-the-container")
    long_lived = asyncio.all_tasks()
    release = asyncio.Event()
    finished: list[str] = []

    async def listener_work() -> None:
        await release.wait()
        finished.append("listener work")

    work = asyncio.create_task(listener_work())
    drain = asyncio.create_task(drain_background_work(long_lived, wait_seconds=60))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not drain.done(), "the drain returned while listener work was still running"
    release.set()
    # A drain that waited for the long-lived task would sit out its whole 60 s here.
    await asyncio.wait_for(drain, timeout=10)
    assert work.done() and finished == ["listener work"]
    assert not forever.done()
    forever.cancel()


async def test_work_still_running_when_the_drain_runs_out_is_left_running() -> None:
    long_lived = asyncio.all_tasks()
    stuck = asyncio.create_task(asyncio.Event().wait())
    await drain_background_work(long_lived, wait_seconds=0.01)
    assert not stuck.done()
    stuck.cancel()
