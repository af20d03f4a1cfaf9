"""Injected faults, 429s and latency, Slack's one-post-a-second pace in a channel and its pace
of message updates in the workspace."""

from __future__ import annotations

import time
from collections import deque

from emulators.slack.records import Fault, JSONDict, Reply, StubHandler
from emulators.slack.workspace import Workspace


class Faults(Workspace):
    """What a test makes Slack do wrong: errors, 429s, a channel's post rate, latency, stubs."""

    def fail_next(
        self, method: str, error: str = "internal_error", *, times: int = 1, status: int = 200
    ) -> None:
        """The next `times` calls to `method` answer `{"ok": false, "error": error}`."""
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(Fault(error, status) for _ in range(times))

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls to `method` answer HTTP 429 with Retry-After."""
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(Fault("ratelimited", 429, retry_after) for _ in range(times))

    def enforce_post_rate(self, interval: float | None = 1.0) -> None:
        """Answer 429 (Retry-After: 1) to a chat.postMessage that comes less than `interval`
        seconds after the previous one in the same channel; None stops enforcing."""
        with self._lock:
            self.post_interval = interval
            self._last_post.clear()

    def enforce_update_rate(self, interval: float | None = 1.2) -> None:
        """Answer 429 (Retry-After: 1) to a chat.update that comes less than `interval` seconds
        after the previous one in the workspace; None stops enforcing."""
        with self._lock:
            self.update_interval = interval
            self._last_update = None

    def set_latency(self, method: str | None, seconds: float) -> None:
        """Delay answers to `method` (None: every method) by `seconds`."""
        with self._lock:
            self._latency["*" if method is None else method] = seconds

    def stub(self, method: str, response: JSONDict | StubHandler) -> None:
        """Answer a method the fake does not model with a fixed body or fn(args) -> body."""
        with self._lock:
            self._stubs[method] = response

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency.clear()

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None


def post_too_soon(slack: Workspace, channel: str) -> bool:
    """Whether a chat.postMessage in `channel` now breaks the enforced rate (then counted)."""
    if slack.post_interval is None:
        return False
    now = time.monotonic()
    last = slack._last_post.get(channel)
    if last is not None and now - last < slack.post_interval:
        slack.post_rate_limited += 1
        return True
    slack._last_post[channel] = now
    return False


def update_too_soon(slack: Workspace) -> bool:
    """Whether a chat.update now breaks the enforced workspace rate (then counted)."""
    if slack.update_interval is None:
        return False
    now = time.monotonic()
    last = slack._last_update
    if last is not None and now - last < slack.update_interval:
        slack.update_rate_limited += 1
        return True
    slack._last_update = now
    return False


def fault_reply(fault: Fault) -> Reply:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return Reply({"ok": False, "error": fault.error}, status=fault.status, headers=headers)
