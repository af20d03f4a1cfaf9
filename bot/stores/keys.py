"""Every Redis key name and TTL in one place; all keys live under REDIS_PREFIX.

Each function returns the key *without* the prefix; `Keys` adds it.
"""

from __future__ import annotations

from dataclasses import dataclass

# TTLs, in seconds, of the ephemeral things (ARCHITECTURE §7).
OAUTH_STATE_TTL = 10 * 60
PENDING_ENROLMENT_TTL = 10 * 60
IDEMPOTENCY_TTL = 24 * 60 * 60


@dataclass(frozen=True)
class Keys:
    """Builds prefixed key names; one instance per process, made in the composition root."""

    prefix: str

    def lease(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

    def once(self, key: str) -> str:
        return f"{self.prefix}once:{key}"

    def health(self) -> str:
        return f"{self.prefix}health"
