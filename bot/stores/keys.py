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

    # The audit trail: a stream of entries and the head (last seq, hash, stream id) kept apart
    # so that deleting the newest entries shows. Both share the hash tag {audit} because one
    # Lua script touches both, which Redis Cluster allows only within one slot.
    def audit_stream(self) -> str:
        return f"{self.prefix}{{audit}}:stream"

    def audit_head(self) -> str:
        return f"{self.prefix}{{audit}}:head"

    # Approval Tokens: one hash per user, the QR messages still to delete, and two indexes
    # (pending enrolments by pending_until, active tokens by expires_at) for the jobs. They share
    # the hash tag {totp} because one Lua script touches several, which Redis Cluster allows
    # only within one slot. A pending user hash expires after PENDING_ENROLMENT_TTL (at least).
    def totp_token(self, user: str) -> str:
        return f"{self.prefix}{{totp}}:user:{user}"

    def totp_qr(self) -> str:
        return f"{self.prefix}{{totp}}:qr"

    def totp_pending(self) -> str:
        return f"{self.prefix}{{totp}}:pending"

    def totp_expiry(self) -> str:
        return f"{self.prefix}{{totp}}:expiry"
