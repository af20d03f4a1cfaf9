"""The real clock (UTC); tests use a movable one from tests/fakes."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Reads the system time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
