"""Approval Token service: enrol, activate, verify for signing, revoke, extend, unlock, status."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from services.approval_token.ports import (
    AttemptResult,
    AttemptRules,
    ExpiredEnrolment,
    NewEnrolment,
    Outcome,
    Purpose,
    QrMessage,
    Revocation,
    SecurityAlerts,
    TokenRecord,
    TokenState,
    TokenStore,
)
from services.approval_token.totp import (
    match_step,
    new_secret,
    normalise_code,
    otpauth_uri,
    qr_png,
    time_step,
)
from services.audit.events import SYSTEM, Actor, AuditEvent, Auditor
from services.errors import (
    CodeFormatError,
    CodeReused,
    ExtendDaysInvalid,
    NoPendingEnrolment,
    NoToken,
    TokenChanged,
    TokenError,
    TokenExpired,
    TokenLocked,
    TokenNotEnrolled,
    TokenPending,
    TokenRevoked,
    WrongCode,
)
from services.ports import Clock
from services.secretbox import SecretBox

log = logging.getLogger(__name__)

# Audit actions (target "approval-token:<user>"; never a code, secret or URI in any field):
#   token.enrol.started / .refused (locked) / .activated / .expired (by the job, actor system)
#   token.verify.ok / .failed / .replayed / .malformed / .refused (reason: not_enrolled,
#     pending, expired, revoked, locked, enrolment_expired, enrolment_replaced, ...)
#   token.locked (the failure that locks; the alert goes out with it)
#   token.revoked / token.extended / token.unlocked (actor: the user or the admin)
# Each verification records exactly one of them.

PENDING_FOR = timedelta(minutes=10)  # an unconfirmed enrolment expires
REMINDER_DAYS = (7, 1)  # expiry DMs, days before
# An attempt finds the record changed (re-enrolled, revoked) between read and write only in a
# race; re-reading once or twice settles it against the new record.
_STALE_RETRIES = 3


@dataclass(frozen=True)
class Enrolment:
    """A new pending enrolment, for the caller to send by DM. Never log it: it holds the secret."""

    user: str
    enrolment_id: str
    pending_until: datetime
    otpauth_uri: str = field(repr=False)
    setup_key: str = field(repr=False)  # the base32 secret, for people who cannot scan
    qr_png: bytes = field(repr=False)
    replaced_qr: QrMessage | None = None  # the DM of an enrolment this one replaced: delete it

    @property
    def setup_key_grouped(self) -> str:
        """The setup key in groups of four, easier to type (authenticator apps ignore spaces)."""
        key = self.setup_key
        return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


@dataclass(frozen=True)
class Activation:
    expires_at: datetime
    qr: QrMessage | None  # the enrolment DM to delete now that the secret has been used


@dataclass(frozen=True)
class Verification:
    """A code accepted for a signature."""

    user: str
    verified_at: datetime


class Condition(StrEnum):
    NOT_ENROLLED = "not enrolled"
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    LOCKED = "locked"
    REVOKED = "revoked"


@dataclass(frozen=True)
class TokenStatus:
    """What `/approvals status` and the admin inventory show for one user."""

    user: str
    condition: Condition
    created_at: datetime | None = None
    pending_until: datetime | None = None
    activated_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    failures: int = 0
    locked_until: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def enrolled(self) -> bool:
        return self.condition not in (Condition.NOT_ENROLLED, Condition.REVOKED)


@dataclass(frozen=True)
class ExpiryReminder:
    user: str
    expires_at: datetime
    days_before: int


class ApprovalTokens:
    """Each user's TOTP second factor: its life cycle and the check every signature runs."""

    def __init__(
        self,
        *,
        store: TokenStore,
        box: SecretBox,
        clock: Clock,
        auditor: Auditor,
        alerts: SecurityAlerts,
        validity_days: int,
        max_failures: int,
        lockout_minutes: int,
    ) -> None:
        self._store = store
        self._box = box
        self._clock = clock
        self._auditor = auditor
        self._alerts = alerts
        # The failure-counting window is the lockout length: TOTP_MAX_FAILURES failures within
        # TOTP_LOCKOUT_MINUTES lock for TOTP_LOCKOUT_MINUTES.
        self._rules = AttemptRules(
            max_failures=max_failures,
            failure_window=timedelta(minutes=lockout_minutes),
            lockout=timedelta(minutes=lockout_minutes),
            validity=timedelta(days=validity_days),
        )

    # -- enrolment ---------------------------------------------------------------------------

    async def start_enrolment(self, user: str, email: str) -> Enrolment:
        """A new secret, pending for 10 minutes; whatever the user had stops working at once."""
        now = self._clock.now()
        secret = new_secret()
        enrolment_id = secrets.token_hex(8)
        swap = await self._store.begin_enrolment(
            NewEnrolment(
                user=user,
                enrolment_id=enrolment_id,
                sealed_secret=self._box.seal(secret.encode("ascii")),
                created_at=now,
                pending_until=now + PENDING_FOR,
            )
        )
        if swap.locked_until is not None:
            await self._audit(user, "token.enrol.refused", reason="locked")
            raise TokenLocked(swap.locked_until)
        previous = swap.previous_state.value if swap.previous_state else "none"
        await self._audit(
            user, "token.enrol.started", details={"enrolment": enrolment_id, "replaced": previous}
        )
        log.debug("enrolment started", extra={"user": user, "replaced": previous})
        uri = otpauth_uri(secret, email)
        return Enrolment(
            user=user,
            enrolment_id=enrolment_id,
            pending_until=now + PENDING_FOR,
            otpauth_uri=uri,
            setup_key=secret,
            qr_png=qr_png(uri),
            replaced_qr=swap.replaced_qr,
        )

    async def record_qr_message(self, user: str, enrolment_id: str, qr: QrMessage) -> bool:
        """Remember where the QR was sent; False means the enrolment is gone: delete the DM now."""
        return await self._store.attach_qr(user, enrolment_id, qr)

    async def activate(
        self, user: str, code: object, enrolment_id: str | None = None
    ) -> Activation:
        """Confirm a pending enrolment with a correct code; valid for validity_days from now."""
        result, _ = await self._verify(user, code, Purpose.ACTIVATE, enrolment_id)
        assert result.expires_at is not None  # set by every accepted activation
        return Activation(expires_at=result.expires_at, qr=result.qr)

    # -- signatures --------------------------------------------------------------------------

    async def verify_for_signature(self, user: str, code: object) -> Verification:
        """Check a signer's code; raises a TokenError or CodeFormatError saying what to do next."""
        _, verified_at = await self._verify(user, code, Purpose.SIGN, None)
        return Verification(user=user, verified_at=verified_at)

    async def _verify(
        self, user: str, code: object, purpose: Purpose, enrolment_id: str | None
    ) -> tuple[AttemptResult, datetime]:
        now = self._clock.now()
        what = purpose.value
        for _ in range(_STALE_RETRIES):
            record = await self._store.get(user)
            refusal = self._refusal(record, purpose, now, enrolment_id)
            if refusal is not None:
                await self._audit(
                    user, "token.verify.refused", reason=refusal[0], details={"purpose": what}
                )
                raise refusal[1]
            assert record is not None
            try:
                digits = normalise_code(code)
            except CodeFormatError:
                # Not an attempt: a typo must not bring anyone closer to a lockout.
                await self._audit(user, "token.verify.malformed", details={"purpose": what})
                raise
            current = time_step(now)
            secret = self._box.open(record.sealed_secret).decode("ascii")
            step = match_step(secret, digits, current)
            result = await self._store.attempt(
                user, record.enrolment_id, purpose, step, now, self._rules
            )
            log.debug("token verification", extra={"user": user, "outcome": result.outcome.value})
            match result.outcome:
                case Outcome.STALE:
                    continue
                case Outcome.ACCEPTED:
                    assert step is not None
                    action = (
                        "token.enrol.activated"
                        if purpose is Purpose.ACTIVATE
                        else "token.verify.ok"
                    )
                    details = {"purpose": what, "offset": f"{step - current:+d}"}
                    if result.expires_at is not None:
                        details["expires_at"] = result.expires_at.isoformat()
                    await self._audit(user, action, details=details)
                    return result, now
                case Outcome.REPLAYED:
                    await self._audit(user, "token.verify.replayed", details={"purpose": what})
                    raise CodeReused()
                case Outcome.LOCKED:
                    assert result.locked_until is not None
                    await self._audit(
                        user, "token.verify.refused", reason="locked", details={"purpose": what}
                    )
                    raise TokenLocked(result.locked_until)
                case Outcome.FAILED if result.locked_until is not None:
                    # The failure that locks: one audit row for it, then the alert (11.300(d)).
                    await self._audit(
                        user,
                        "token.locked",
                        reason=f"{result.failures} wrong codes",
                        details={"purpose": what, "until": result.locked_until.isoformat()},
                    )
                    await self._alerts.user_locked(user, result.locked_until)
                    raise TokenLocked(result.locked_until)
                case Outcome.FAILED:
                    tries_left = max(0, self._rules.max_failures - result.failures)
                    await self._audit(
                        user,
                        "token.verify.failed",
                        details={"purpose": what, "failures": str(result.failures)},
                    )
                    raise WrongCode(tries_left)
        raise TokenChanged()

    def _refusal(
        self,
        record: TokenRecord | None,
        purpose: Purpose,
        now: datetime,
        enrolment_id: str | None,
    ) -> tuple[str, TokenError] | None:
        """Why this record cannot take a code for `purpose` now: (audit reason, error), or None."""
        if record is None:
            if purpose is Purpose.ACTIVATE:
                return "none", NoPendingEnrolment("none")
            return "not_enrolled", TokenNotEnrolled()
        # Locked first: until the lock ends nothing else the user could do would help.
        if record.locked_until is not None and record.locked_until > now:
            return "locked", TokenLocked(record.locked_until)
        pending_live = record.pending_until is not None and record.pending_until > now
        if purpose is Purpose.ACTIVATE:
            if record.state is TokenState.ACTIVE:
                return "already_active", NoPendingEnrolment("already_active", record.expires_at)
            if record.state is TokenState.REVOKED:
                return "revoked", NoPendingEnrolment("none")
            if not pending_live:
                return "enrolment_expired", NoPendingEnrolment("expired")
            if enrolment_id is not None and enrolment_id != record.enrolment_id:
                return "enrolment_replaced", NoPendingEnrolment("replaced")
            return None
        if record.state is TokenState.REVOKED:
            return "revoked", TokenRevoked(record.revoked_at)
        if record.state is TokenState.PENDING:
            if pending_live:
                return "pending", TokenPending()
            return "not_enrolled", TokenNotEnrolled(lapsed=True)
        if record.expires_at is None or record.expires_at <= now:
            return "expired", TokenExpired(record.expires_at or now)
        return None

    # -- administration ----------------------------------------------------------------------

    async def revoke(self, user: str, actor: Actor, reason: str) -> Revocation:
        """Revoke now (lost device, admin reset): no code verifies until the user enrols again."""
        revocation = await self._store.revoke(user, self._clock.now(), reason)
        if revocation is None:
            raise NoToken("revoke")
        await self._audit(
            user,
            "token.revoked",
            actor=actor,
            reason=reason,
            details={"previous": revocation.previous_state.value},
        )
        return revocation

    async def extend(self, user: str, days: int, actor: Actor) -> datetime:
        """Move an active token's expiry `days` later (from now if it already expired)."""
        if days < 1:
            raise ExtendDaysInvalid()
        expires_at = await self._store.extend(user, timedelta(days=days), self._clock.now())
        if expires_at is None:
            raise NoToken("extend")
        await self._audit(
            user,
            "token.extended",
            actor=actor,
            details={"days": str(days), "expires_at": expires_at.isoformat()},
        )
        return expires_at

    async def unlock(self, user: str, actor: Actor) -> None:
        """Clear the lock and the failed-attempt count (admin)."""
        if not await self._store.unlock(user):
            raise NoToken("unlock")
        await self._audit(user, "token.unlocked", actor=actor)

    async def status(self, user: str) -> TokenStatus:
        record = await self._store.get(user)
        if record is None:
            return TokenStatus(user=user, condition=Condition.NOT_ENROLLED)
        return self._status_of(record, self._clock.now())

    async def all_statuses(self) -> list[TokenStatus]:
        """The status of every user with a token record (admin inventory), read in bulk."""
        now = self._clock.now()
        return [self._status_of(record, now) for record in await self._store.list_all()]

    def _status_of(self, record: TokenRecord, now: datetime) -> TokenStatus:
        user = record.user
        locked = record.locked_until is not None and record.locked_until > now
        counting = (
            record.failures_since is not None
            and now - record.failures_since < self._rules.failure_window
        )
        if locked:
            condition = Condition.LOCKED
        elif record.state is TokenState.REVOKED:
            condition = Condition.REVOKED
        elif record.state is TokenState.PENDING:
            live = record.pending_until is not None and record.pending_until > now
            condition = Condition.PENDING if live else Condition.NOT_ENROLLED
        elif record.expires_at is not None and record.expires_at > now:
            condition = Condition.ACTIVE
        else:
            condition = Condition.EXPIRED
        return TokenStatus(
            user=user,
            condition=condition,
            created_at=record.created_at,
            pending_until=record.pending_until,
            activated_at=record.activated_at,
            expires_at=record.expires_at,
            last_used_at=record.last_used_at,
            failures=record.failures if locked or counting else 0,
            locked_until=record.locked_until if locked else None,
            revoked_at=record.revoked_at,
        )

    # -- jobs --------------------------------------------------------------------------------

    async def expire_pending(self, now: datetime | None = None) -> list[ExpiredEnrolment]:
        """Drop unconfirmed enrolments past 10 minutes; the caller deletes each returned DM."""
        expired = await self._store.expire_pending(now or self._clock.now())
        for item in expired:
            await self._audit(item.user, "token.enrol.expired", actor=SYSTEM)
        return expired

    async def due_expiry_reminders(self, now: datetime | None = None) -> list[ExpiryReminder]:
        """The 7-day and 1-day expiry DMs due now; each is handed out once, to one caller."""
        now = now or self._clock.now()
        horizon = timedelta(days=max(REMINDER_DAYS))
        due: list[ExpiryReminder] = []
        for record in await self._store.expiring(now, now + horizon):
            assert record.expires_at is not None
            left = record.expires_at - now
            # The nearest threshold already crossed; a token first seen with under a day left
            # gets only the 1-day reminder, not a late 7-day one as well.
            days = min(d for d in REMINDER_DAYS if left <= timedelta(days=d))
            if days in record.reminded:
                continue
            if await self._store.claim_reminder(record.user, record.expires_at, days):
                due.append(ExpiryReminder(record.user, record.expires_at, days))
        return due

    # -- audit -------------------------------------------------------------------------------

    async def _audit(
        self,
        user: str,
        action: str,
        *,
        actor: Actor | None = None,
        reason: str = "",
        details: dict[str, str] | None = None,
    ) -> None:
        # Never a code, a secret or a URI here: the trail is exported and read by people.
        await self._auditor.record(
            AuditEvent(
                actor=actor or Actor(slack_id=user),
                action=action,
                target=f"approval-token:{user}",
                reason=reason,
                details=details or {},
            )
        )
