"""Every Redis key name and TTL in one place; all keys live under REDIS_PREFIX.

Every `Keys` method returns the full key name, prefix included.
"""

from __future__ import annotations

from dataclasses import dataclass

# TTLs, in seconds, of the ephemeral things (ARCHITECTURE §7).
OAUTH_STATE_TTL = 10 * 60
PENDING_ENROLMENT_TTL = 10 * 60


@dataclass(frozen=True)
class Keys:
    """Builds prefixed key names; one instance per process, made in the composition root."""

    prefix: str

    def lease(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

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

    # Every user who ever started an enrolment (a set), so the admin inventory lists all token
    # records without SCAN. Only a hint: a member whose hash has gone is skipped when listing.
    def totp_users(self) -> str:
        return f"{self.prefix}{{totp}}:users"

    # Atlassian links: one hash per Slack user (version, account, sealed grant, refreshed ms,
    # broken), a zset of working grants by last refresh (the idle-refresh job) and a hash
    # Atlassian account id -> Slack user (one account links one person). They share the hash
    # tag {link} because one Lua script touches all three. OAuth states are keyed by the SHA-256
    # of the state (the state itself never rests in the store) and expire after OAUTH_STATE_TTL.
    def link_grant(self, user: str) -> str:
        return f"{self.prefix}{{link}}:grant:{user}"

    def link_refreshed(self) -> str:
        return f"{self.prefix}{{link}}:refreshed"

    def link_accounts(self) -> str:
        return f"{self.prefix}{{link}}:accounts"

    def oauth_state(self, digest: str) -> str:
        return f"{self.prefix}oauth:state:{digest}"

    # Approval requests: one hash per request (its versioned state), five zsets the jobs read
    # (pending by expiry, reminders due, submits in flight by lease end, tracking by next poll,
    # open stages by escalation time), the watched spaces (a hash space id -> JSON) and, per
    # watched space, the change sets already seen (a set). A request and its indexes share the
    # hash tag {req} because one compare-and-set script writes the request and its index
    # entries together (so an index never disagrees with its request), which Redis Cluster
    # allows only within one slot.
    def request(self, request_id: str) -> str:
        return f"{self.prefix}{{req}}:r:{request_id}"

    def request_expiry(self) -> str:
        return f"{self.prefix}{{req}}:expiry"

    def request_reminders(self) -> str:
        return f"{self.prefix}{{req}}:remind"

    def request_submitting(self) -> str:
        return f"{self.prefix}{{req}}:submitting"

    def request_tracking(self) -> str:
        return f"{self.prefix}{{req}}:tracking"

    def request_escalations(self) -> str:
        return f"{self.prefix}{{req}}:escalate"

    def request_watches(self) -> str:
        return f"{self.prefix}{{req}}:watches"

    def request_seen(self, space_id: str) -> str:
        return f"{self.prefix}{{req}}:seen:{space_id}"
