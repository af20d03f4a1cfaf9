"""When to try an ApprovalFlow call again: Atlassian's backoff, and Retry-After when given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Atlassian's advice for 429 and 5xx: start at 5 s, double up to 30 s, multiply by a jitter
    in 0.7-1.3, and stop after 4 tries in all. A Retry-After is honoured as given, unless it is
    longer than `max_retry_after_seconds`: a person is waiting, so that is handed back to the
    caller as RateLimited instead of held."""

    first_seconds: float = 5.0
    max_seconds: float = 30.0
    jitter: tuple[float, float] = (0.7, 1.3)
    max_tries: int = 4
    max_retry_after_seconds: float = 60.0

    def delay(
        self, tries: int, retry_after: float | None, random: Callable[[], float]
    ) -> float | None:
        """Seconds to wait after `tries` failed tries, or None when no try is left."""
        if tries >= self.max_tries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after_seconds else None
        base = min(self.first_seconds * 2.0 ** (tries - 1), self.max_seconds)
        low, high = self.jitter
        return base * (low + (high - low) * random())
