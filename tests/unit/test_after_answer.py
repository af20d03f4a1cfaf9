"""Work after an answer: in order per subject, bounded, never dropped, a failure contained."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.after_answer import InOrderAfterAnswer, RightAway


async def test_one_subjects_work_runs_in_the_order_asked_even_when_the_first_is_slow() -> None:
    after = InOrderAfterAnswer()
    done: list[str] = []
    first_may_end = asyncio.Event()

    async def slow() -> None:
        await first_may_end.wait()
        done.append("AR-1 first")

    async def quick(name: str) -> None:
        done.append(name)

    await after.run("AR-1", slow)
    await after.run("AR-1", lambda: quick("AR-1 second"))
    await after.run("AR-2", lambda: quick("AR-2 only"))
    await asyncio.sleep(0.01)
    # Another subject is not held up; the same subject waits for its earlier work.
    assert done == ["AR-2 only"]
    assert after.pending == 2
    first_may_end.set()
    await after.drain()
    assert done == ["AR-2 only", "AR-1 first", "AR-1 second"]
    assert after.pending == 0


async def test_run_returns_before_the_work_and_settled_waits_for_it() -> None:
    after = InOrderAfterAnswer()
    done: list[int] = []

    async def work() -> None:
        await asyncio.sleep(0.01)
        done.append(1)

    await after.run("AR-1", work)
    assert done == []
    await after.settled("AR-1")
    assert done == [1]
    await after.settled("AR-9")  # nothing asked: returns at once


async def test_a_failure_is_logged_and_the_next_piece_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    after = InOrderAfterAnswer()
    done: list[str] = []

    async def broken() -> None:
        raise RuntimeError("Slack is down")

    async def next_one() -> None:
        done.append("next")

    with caplog.at_level(logging.ERROR, logger="services.after_answer"):
        await after.run("AR-1", broken)
        await after.run("AR-1", next_one)
        await after.drain()
    assert done == ["next"]
    [record] = [r for r in caplog.records if r.name == "services.after_answer"]
    assert record.subject == "AR-1"  # type: ignore[attr-defined]
    assert record.exc_info is not None


async def test_at_most_the_concurrency_runs_at_once() -> None:
    after = InOrderAfterAnswer(concurrency=2)
    running = 0
    most = 0

    async def work() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1

    for n in range(6):
        await after.run(f"AR-{n}", work)
    await after.drain()
    assert most == 2


async def test_drain_waits_for_work_asked_for_by_work() -> None:
    after = InOrderAfterAnswer()
    done: list[str] = []

    async def inner() -> None:
        await asyncio.sleep(0.01)
        done.append("inner")

    async def outer() -> None:
        await after.run("AR-2", inner)
        done.append("outer")

    await after.run("AR-1", outer)
    await after.drain()
    assert done == ["outer", "inner"]


async def test_right_away_runs_inside_the_callers_wait() -> None:
    done: list[int] = []

    async def work() -> None:
        done.append(1)

    await RightAway().run("AR-1", work)
    assert done == [1]
