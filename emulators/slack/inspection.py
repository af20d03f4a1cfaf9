"""Reading the workspace back: recorded calls, waits for them, messages and open views."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from emulators.slack.records import Call, FakeMessage, FakeView, ResponsePost
from emulators.slack.workspace import Workspace


class Inspection(Workspace):
    """What tests and pages read back: calls (and waits for them), messages, views."""

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' API; asyncio.timeout is used inside
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until `count` calls to `method` (matching `where`) were answered; return them."""
        found: list[Call] = []

        def enough() -> bool:
            nonlocal found
            found = self._matching(method, where)
            return len(found) >= count

        if not await self._until(enough, timeout):
            raise AssertionError(self._timeout_message(method, count, timeout, found))
        return found

    async def response_post(
        self,
        url: str,
        timeout: float = 30.0,  # noqa: ASYNC109 - the tests' API; asyncio.timeout is used inside
    ) -> ResponsePost:
        """Wait for the app's first post to a response_url the fake issued (a refused one too:
        its `ok` says); return it."""

        def first() -> ResponsePost | None:
            with self._lock:
                return next((p for p in self.response_posts if p.url == url), None)

        if not await self._until(lambda: first() is not None, timeout):
            raise AssertionError(f"waited {timeout}s for a post to {url}")
        post = first()
        assert post is not None
        return post

    async def _until(self, done: Callable[[], bool], seconds: float) -> bool:
        """Wait until `done()`, looking again after each recorded call; False on timeout."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                while True:
                    # Clear before looking, so a call recorded after the look still wakes us.
                    event.clear()
                    if done():
                        return True
                    await event.wait()
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    def wait_for_sync(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Blocking wait_for, for code outside the server's loop (run_in_thread)."""
        with self._recorded:
            done = self._recorded.wait_for(
                lambda: len(self._matching(method, where)) >= count, timeout
            )
            found = self._matching(method, where)
        if not done:
            raise AssertionError(self._timeout_message(method, count, timeout, found))
        return found

    def messages(self, channel: str, *, include_deleted: bool = False) -> list[FakeMessage]:
        """Messages in a channel (thread replies included), oldest first; `U…` means the DM."""
        with self._lock:
            stored = self._channels.get(self._dm_ids.get(channel, channel), {})
            return [
                m for m in sorted(stored.values(), key=_ts_key) if include_deleted or not m.deleted
            ]

    def replies(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        return [m for m in self.messages(channel) if m.thread_ts == thread_ts and m.ts != thread_ts]

    def message(self, channel: str, ts: str) -> FakeMessage | None:
        with self._lock:
            return self._channels.get(self._dm_ids.get(channel, channel), {}).get(ts)

    def dm_channel_id(self, user_id: str) -> str | None:
        return self._dm_ids.get(user_id)

    def dm_messages(self, user_id: str) -> list[FakeMessage]:
        """Messages in the bot's DM with the user (empty if none was opened)."""
        channel = self._dm_ids.get(user_id)
        return self.messages(channel) if channel else []

    def ephemerals(
        self, *, channel: str | None = None, user: str | None = None
    ) -> list[FakeMessage]:
        with self._lock:
            return [
                m
                for m in self._ephemerals
                if (channel is None or m.channel == channel)
                and (user is None or m.ephemeral_user == user)
            ]

    def view_stack(self, user_id: str) -> list[FakeView]:
        """The user's open modals, root first."""
        with self._lock:
            return [self.views[v] for v in self._stacks.get(user_id, [])]

    def _matching(self, method: str, where: Callable[[Call], bool] | None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (where is None or where(c))]

    def _timeout_message(self, method: str, count: int, timeout: float, found: list[Call]) -> str:
        seen = [c.method for c in self.calls]
        return (
            f"waited {timeout}s for {count} call(s) to {method}, got {len(found)}; "
            f"calls so far: {seen}"
        )


def _ts_key(message: FakeMessage) -> tuple[int, int]:
    seconds, _, micros = message.ts.partition(".")
    return int(seconds), int(micros or 0)
