"""`Pacer`: the jobs' Slack sends spaced per lane, in order, and across processes sharing Redis.

Slack takes about one message per second in a channel (chat.postMessage, "special" tier), about
50 chat.update a minute in a workspace (Tier 3) and 100 users.info (Tier 4). A lane is a
channel's posts, the workspace's message updates, or its look-ups. Within a process a lane's
sends go one at a time, in the order asked, at least an interval after the previous one ended.
Across processes (several bot processes on one store) each send first takes the lane's next
slot from `PaceSlots` (one Redis round trip, bot/stores/pacing.py), so together they keep the
pace too; a send then sleeps until its slot, never polls. A 429 met anyway is waited out by
the client's retry handler.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

T = TypeVar("T")

# Slack accepts about one message per second per channel.
POST_INTERVAL_SECONDS = 1.0
# chat.update is Tier 3 (50+ a minute per workspace): the jobs take 40 of those, leaving the
# rest for the updates that answer people (a signature's message), which are never paced.
UPDATE_INTERVAL_SECONDS = 1.5
# A send reaches Slack a few milliseconds after its slot, by more or less in each process:
# slots shared between processes are this much further apart, so two never arrive too close.
SHARED_MARGIN_SECONDS = 0.05
# users.info is Tier 4 (100+ a minute per workspace): the check of everyone holding a token or
# a link takes 60 of those, leaving the rest for the look-ups that answer people.
LOOKUP_INTERVAL_SECONDS = 1.0
_FORGET_AFTER = 1024  # lanes remembered before idle ones are dropped


class PaceSlots(Protocol):
    """The lanes' next free moments, shared by every process (Redis)."""

    async def reserve(self, lane: str, interval: float, not_before: float) -> float:
        """Take the lane's next slot, no sooner than `not_before` seconds from now, and keep
        the one `interval` after it for the next caller; seconds to wait for it."""
        ...


class Pacer:
    """At most one send per lane per interval, in the order they were asked for.

    The lane's lock is held over the call itself (and Slack's 429 waits inside it), so within
    a process the interval counts from the end of the previous send."""

    def __init__(
        self,
        *,
        post_interval: float = POST_INTERVAL_SECONDS,
        update_interval: float = UPDATE_INTERVAL_SECONDS,
        lookup_interval: float = LOOKUP_INTERVAL_SECONDS,
        slots: PaceSlots | None = None,
    ) -> None:
        self._post_interval = post_interval
        self._update_interval = update_interval
        self._lookup_interval = lookup_interval
        self._slots = slots
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    async def post(self, channel: str, call: Callable[[], Awaitable[T]]) -> T:
        """A post to `channel` (a user id: the DM), in that channel's turn."""
        return await self._run(f"post:{channel}", self._post_interval, call)

    async def update(self, call: Callable[[], Awaitable[T]]) -> T:
        """A message update, in the workspace's turn for updates."""
        return await self._run("chat.update", self._update_interval, call)

    async def look_up(self, call: Callable[[], Awaitable[T]]) -> T:
        """A users.info, in the workspace's turn for look-ups."""
        return await self._run("users.info", self._lookup_interval, call)

    async def _run(self, lane: str, interval: float, call: Callable[[], Awaitable[T]]) -> T:
        lock = self._locks.setdefault(lane, asyncio.Lock())
        async with lock:
            wait = self._last.get(lane, -interval) + interval - time.monotonic()
            if self._slots is not None and interval > 0:
                shared = interval + SHARED_MARGIN_SECONDS
                wait = await self._slots.reserve(lane, shared, max(wait, 0.0))
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await call()
            finally:
                self._last[lane] = time.monotonic()
                self._forget_idle()

    def _forget_idle(self) -> None:
        if len(self._last) < _FORGET_AFTER:
            return
        now = time.monotonic()
        for lane, at in list(self._last.items()):
            lock = self._locks.get(lane)
            longest = max(self._post_interval, self._update_interval, self._lookup_interval)
            if now - at > longest and (lock is None or not lock.locked()):
                self._last.pop(lane, None)
                self._locks.pop(lane, None)
