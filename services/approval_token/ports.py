"""What the Approval Token service stores and whom it alerts: records, the attempt primitive, ports.

The store keeps one record per Slack user. A verification costs two store calls: `get` (one
round trip) and `attempt` (one atomic round trip). `attempt` holds every rule that must not
race: the lock, the replay guard (a step is accepted only if greater than the last accepted
one, so two simultaneous submissions of one code cannot both pass) and the failure count.
Rules live here in prose, in the Lua script of bot/stores/approval_token.py and in the fake of
tests/fakes/approval_token_store.py; tests/contract holds them to the same behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(when: datetime) -> int:
    """Milliseconds since the epoch, exactly (stores keep times to the millisecond)."""
    return (when - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * _MS


class TokenState(StrEnum):
    """Where a user's token is in its life; "expired" and "locked" are read from the times."""

    PENDING = "pending"  # enrolled, waiting for the first correct code
    ACTIVE = "active"
    REVOKED = "revoked"  # lost device or admin reset; the secret is gone


class Purpose(StrEnum):
    """What a code is checked for: confirming an enrolment, or a signature."""

    ACTIVATE = "activate"
    SIGN = "sign"


@dataclass(frozen=True)
class QrMessage:
    """The DM that carried the QR code and setup key; deleted after activation or expiry."""

    channel: str
    ts: str
    file_id: str | None = None


@dataclass(frozen=True)
class TokenRecord:
    """A user's Approval Token as stored. The secret is sealed by the service's SecretBox."""

    user: str
    state: TokenState
    enrolment_id: str  # new for every enrolment; an attempt names it so a swap is noticed
    sealed_secret: bytes = field(repr=False)  # empty once revoked
    created_at: datetime
    pending_until: datetime | None = None
    activated_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    last_step: int = -1  # the last accepted time step; only greater steps are accepted
    failures: int = 0
    failures_since: datetime | None = None  # start of the current failure-counting window
    locked_until: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str = ""
    qr: QrMessage | None = None
    reminded: frozenset[int] = frozenset()  # expiry reminders sent (days before) for expires_at


@dataclass(frozen=True)
class NewEnrolment:
    """A pending enrolment to store in place of whatever the user had."""

    user: str
    enrolment_id: str
    sealed_secret: bytes = field(repr=False)
    created_at: datetime
    pending_until: datetime


@dataclass(frozen=True)
class EnrolmentSwap:
    """What `begin_enrolment` did: refused because locked, or replaced the previous record."""

    locked_until: datetime | None = None  # set when refused: the user is locked out
    previous_state: TokenState | None = None
    replaced_qr: QrMessage | None = None  # an older enrolment DM still to delete


@dataclass(frozen=True)
class AttemptRules:
    """The lockout and validity policy an attempt applies (from the service's settings)."""

    max_failures: int
    failure_window: timedelta
    lockout: timedelta
    validity: timedelta  # from activation to expiry


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REPLAYED = "replayed"  # the matched step is not after the last accepted one
    FAILED = "failed"  # no step matched; counted
    LOCKED = "locked"  # refused before looking at the code
    STALE = "stale"  # the record changed since it was read (re-enrolled, revoked, expired)


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    failures: int = 0  # after this attempt
    locked_until: datetime | None = None  # set for LOCKED, and for FAILED when it locked
    expires_at: datetime | None = None  # ACCEPTED activation: the new expiry
    qr: QrMessage | None = None  # ACCEPTED activation: the enrolment DM to delete now


@dataclass(frozen=True)
class Revocation:
    previous_state: TokenState
    qr: QrMessage | None = None  # a pending enrolment's DM to delete


@dataclass(frozen=True)
class ExpiredEnrolment:
    """A pending enrolment that ran out; its DM (if one was recorded) must be deleted."""

    user: str
    qr: QrMessage | None


class TokenStore(Protocol):
    """Approval Token records, one per user; every method is atomic on its own."""

    async def get(self, user: str) -> TokenRecord | None:
        """The user's record, in one round trip (a revoked record is still returned)."""
        ...

    async def begin_enrolment(self, enrolment: NewEnrolment) -> EnrolmentSwap:
        """Replace the user's record with a pending one, unless locked at `created_at`.

        The previous secret stops working at once. The failure count and window carry over (a
        new enrolment is not a way around the lockout); last_step starts again at -1.
        """
        ...

    async def attach_qr(self, user: str, enrolment_id: str, qr: QrMessage) -> bool:
        """Remember the DM of this enrolment; False if that enrolment is no longer pending."""
        ...

    async def attempt(
        self,
        user: str,
        enrolment_id: str,
        purpose: Purpose,
        step: int | None,
        now: datetime,
        rules: AttemptRules,
    ) -> AttemptResult:
        """Apply one verification atomically; `step` is the matched time step or None.

        STALE if the record is gone, has another enrolment id, or is not usable for `purpose`
        at `now` (pending and unexpired to activate; active and unexpired to sign). Then LOCKED
        if locked_until > now; a lock that has run out clears the count. With a step: REPLAYED
        if step <= last_step, else ACCEPTED (last_step = step, last_used = now, count cleared;
        activation also sets active, activated_at = now, expires_at = now + validity and hands
        back and forgets the QR message). Without a step: FAILED; the count restarts when the
        window since the first counted failure has passed, and reaching max_failures sets
        locked_until = now + lockout.
        """
        ...

    async def revoke(self, user: str, now: datetime, reason: str) -> Revocation | None:
        """Mark revoked and drop the secret (lock state kept); None if no token to revoke."""
        ...

    async def extend(self, user: str, by: timedelta, now: datetime) -> datetime | None:
        """Active token: expires_at = max(expires_at, now) + by, reminders reset; None otherwise."""
        ...

    async def unlock(self, user: str) -> bool:
        """Clear the failure count and lock; False if the user has no record."""
        ...

    async def expire_pending(self, now: datetime) -> list[ExpiredEnrolment]:
        """Drop pending enrolments whose pending_until <= now; each is returned to one caller."""
        ...

    async def expiring(self, after: datetime, until: datetime) -> list[TokenRecord]:
        """Active records with after < expires_at <= until."""
        ...

    async def claim_reminder(self, user: str, expires_at: datetime, days_before: int) -> bool:
        """Mark the reminder sent; True only for the first claim while expires_at is unchanged."""
        ...

    async def list_all(self) -> list[TokenRecord]:
        """Every stored record (revoked ones included), ordered by user; for the admin
        inventory, so it must cost a few round trips, not one per user."""
        ...


class SecurityAlerts(Protocol):
    """Tells the user and the security channel at once (21 CFR 11.300(d)); Slack implements it."""

    async def user_locked(self, user: str, until: datetime) -> None: ...
