"""Work that follows a person's answer: run after it, in order per subject, never dropped.

A signature's Slack news (the message rewritten, the thread reply, the DMs) matters to the
channel, not to the signer waiting on their modal: `InOrderAfterAnswer` runs it once the answer
has gone, so the signer's answer and the next signer's checks do not queue behind it. What must
not be lost on a crash (the audit entry, the stored state) is never put here: it is written
before the answer. `RightAway` runs the work where it is asked for (tests, and the one-shot
command-line tools that have no answer to wait for).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]

# Enough to keep Slack's round trips overlapping; few enough that a burst of signatures does
# not crowd out the checks of the signers still waiting for their answer.
CONCURRENT_WORK = 4


class AfterAnswer(Protocol):
    async def run(self, subject: str, work: Work) -> None:
        """Do `work` after everything asked before for `subject` (a request id)."""

    async def settled(self, subject: str) -> None:
        """Return once the work asked so far for `subject` is done."""


class RightAway:
    """Runs the work at once, inside the caller's own wait."""

    async def run(self, subject: str, work: Work) -> None:
        await work()

    async def settled(self, subject: str) -> None:
        return None


class InOrderAfterAnswer:
    """Runs each piece of work in its own task: one subject's pieces one after another in the
    order they were asked for, at most CONCURRENT_WORK pieces at once over all subjects. A
    piece that fails is logged (it never stops the next). `drain` waits for all of it; the
    composition root awaits it before it closes the clients the work uses."""

    def __init__(self, concurrency: int = CONCURRENT_WORK) -> None:
        self._gate = asyncio.Semaphore(concurrency)
        self._last: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, subject: str, work: Work) -> None:
        before = self._last.get(subject)
        task = asyncio.get_running_loop().create_task(self._after(before, subject, work))
        self._last[subject] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(subject, done))

    async def settled(self, subject: str) -> None:
        last = self._last.get(subject)
        if last is not None:
            await asyncio.wait({last})

    async def drain(self) -> None:
        """Wait until every piece asked for so far, and any they ask for, is done."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def _after(self, before: asyncio.Task[None] | None, subject: str, work: Work) -> None:
        if before is not None:
            await asyncio.wait({before})  # its failure is its own: logged there
        async with self._gate:
            try:
                await work()
            except Exception:
                log.exception("work after an answer failed", extra={"subject": subject})

    def _forget(self, subject: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last.get(subject) is task:
            del self._last[subject]
