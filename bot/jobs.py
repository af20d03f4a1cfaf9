"""Background jobs: each runs every `interval` under a Redis lease, so processes never double up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.metrics import Metrics
from services.errors import ApprovalsError
from services.ports import Leases
from services.workspace import Installation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[], Awaitable[None]]
    posts_to_slack: bool = True  # paused while the Slack app is removed (Installation)


class JobRunner:
    """Runs registered jobs periodically until stopped; one process at a time per job."""

    def __init__(
        self, leases: Leases, metrics: Metrics, installation: Installation | None = None
    ) -> None:
        self._leases = leases
        self._metrics = metrics
        self._installation = installation
        self._jobs: list[Job] = []
        self._owner = secrets.token_hex(8)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def add(self, job: Job) -> None:
        self._jobs.append(job)

    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def start(self) -> None:
        for job in self._jobs:
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"job:{job.name}"))

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def run_once(self, job: Job) -> bool:
        """Run a job now if this process can take its lease; True when it ran."""
        if job.posts_to_slack and self._installation is not None:
            if await self._installation.removed() is not None:
                return False  # logged once, when Slack said so (services/workspace.py)
        # The lease outlives one interval a little, so a slow run is not started twice.
        lease, ttl = f"job:{job.name}", job.interval_seconds * 1.5
        if not await self._leases.acquire(lease, self._owner, ttl):
            return False
        try:
            held = await self._run_holding(job, lease, ttl)
            self._metrics.jobs_runs.labels(job.name, "ok" if held else "lost").inc()
        except ApprovalsError as exc:
            self._metrics.jobs_runs.labels(job.name, "failed").inc()
            log.warning("job failed", extra={"job": job.name, "error": str(exc)})
        return True

    async def _run_holding(self, job: Job, lease: str, ttl: float) -> bool:
        """Run the job, renewing its lease every third of it: a paced run (Slack posts at one a
        second) can outlast one lease. False when the lease was lost: another process may have
        started the job, so this run stops rather than doubling its work."""
        run = asyncio.ensure_future(job.run())
        try:
            while True:
                done, _ = await asyncio.wait({run}, timeout=ttl / 3)
                if done:
                    run.result()
                    return True
                if not await self._leases.acquire(lease, self._owner, ttl):
                    log.warning("job lost its lease; stopped", extra={"job": job.name})
                    return False
        finally:
            if not run.done():
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError, ApprovalsError):
                    await run

    async def _loop(self, job: Job) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once(job)
            except Exception:  # a job must never kill the runner; the error is logged
                self._metrics.jobs_runs.labels(job.name, "crashed").inc()
                log.exception("job crashed", extra={"job": job.name})
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=job.interval_seconds)
            except TimeoutError:
                pass
