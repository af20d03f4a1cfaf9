"""The emulators' notion of time: anything with `now()`, the system's UTC clock by default."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class ClockLike(Protocol):
    """Anything with `now()`; tests pass a movable clock to control time."""

    def now(self) -> datetime: ...


class SystemClock:
    """Reads the system time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
