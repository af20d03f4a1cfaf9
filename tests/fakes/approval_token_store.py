"""In-memory `TokenStore` with the Redis adapter's behaviour (held to it by tests/contract)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from services.approval_token.ports import (
    AttemptResult,
    AttemptRules,
    EnrolmentSwap,
    ExpiredEnrolment,
    NewEnrolment,
    Outcome,
    Purpose,
    QrMessage,
    Revocation,
    TokenRecord,
    TokenState,
    from_ms,
    to_ms,
)


def _ms(when: datetime) -> datetime:
    """Truncate to the millisecond, as Redis stores it."""
    return from_ms(to_ms(when))


class MemoryTokenStore:
    """Records in a dict; no method awaits before it is done, so each is atomic like a Lua script.

    `records` and `calls` are public so tests can look inside.
    """

    def __init__(self) -> None:
        self.records: dict[str, TokenRecord] = {}
        self.calls: list[str] = []

    async def get(self, user: str) -> TokenRecord | None:
        self.calls.append("get")
        return self.records.get(user)

    async def begin_enrolment(self, enrolment: NewEnrolment) -> EnrolmentSwap:
        self.calls.append("begin_enrolment")
        now = _ms(enrolment.created_at)
        old = self.records.get(enrolment.user)
        failures, since = 0, None
        if old is not None:
            if old.locked_until is not None and old.locked_until > now:
                return EnrolmentSwap(locked_until=old.locked_until)
            if old.locked_until is None:
                failures, since = old.failures, old.failures_since
        self.records[enrolment.user] = TokenRecord(
            user=enrolment.user,
            state=TokenState.PENDING,
            enrolment_id=enrolment.enrolment_id,
            sealed_secret=enrolment.sealed_secret,
            created_at=now,
            pending_until=_ms(enrolment.pending_until),
            failures=failures,
            failures_since=since,
        )
        return EnrolmentSwap(
            previous_state=old.state if old else None, replaced_qr=old.qr if old else None
        )

    async def attach_qr(self, user: str, enrolment_id: str, qr: QrMessage) -> bool:
        self.calls.append("attach_qr")
        record = self.records.get(user)
        if record is None or record.enrolment_id != enrolment_id:
            return False
        if record.state is not TokenState.PENDING:
            return False
        self.records[user] = replace(record, qr=qr)
        return True

    async def attempt(
        self,
        user: str,
        enrolment_id: str,
        purpose: Purpose,
        step: int | None,
        now: datetime,
        rules: AttemptRules,
    ) -> AttemptResult:
        self.calls.append("attempt")
        now = _ms(now)
        record = self.records.get(user)
        if record is None or record.enrolment_id != enrolment_id:
            return AttemptResult(Outcome.STALE)
        if purpose is Purpose.ACTIVATE:
            if record.state is not TokenState.PENDING or not (
                record.pending_until and record.pending_until > now
            ):
                return AttemptResult(Outcome.STALE)
        elif record.state is not TokenState.ACTIVE or not (
            record.expires_at and record.expires_at > now
        ):
            return AttemptResult(Outcome.STALE)
        if record.locked_until is not None and record.locked_until > now:
            return AttemptResult(Outcome.LOCKED, record.failures, record.locked_until)
        if record.locked_until is not None:  # the lock has run out: the count starts again
            record = replace(record, failures=0, failures_since=None, locked_until=None)
            self.records[user] = record
        if step is not None:
            if step <= record.last_step:
                return AttemptResult(Outcome.REPLAYED, record.failures)
            record = replace(
                record,
                last_step=step,
                last_used_at=now,
                failures=0,
                failures_since=None,
                locked_until=None,
            )
            if purpose is Purpose.SIGN:
                self.records[user] = record
                return AttemptResult(Outcome.ACCEPTED)
            expires = now + rules.validity
            qr = record.qr
            self.records[user] = replace(
                record,
                state=TokenState.ACTIVE,
                activated_at=now,
                expires_at=expires,
                pending_until=None,
                qr=None,
            )
            return AttemptResult(Outcome.ACCEPTED, expires_at=expires, qr=qr)
        since = record.failures_since
        failures = record.failures
        if since is None or now - since >= rules.failure_window:
            failures, since = 0, now
        failures += 1
        locked_until = now + rules.lockout if failures >= rules.max_failures else None
        self.records[user] = replace(
            record, failures=failures, failures_since=since, locked_until=locked_until
        )
        return AttemptResult(Outcome.FAILED, failures, locked_until)

    async def revoke(self, user: str, now: datetime, reason: str) -> Revocation | None:
        self.calls.append("revoke")
        record = self.records.get(user)
        if record is None or record.state is TokenState.REVOKED:
            return None
        self.records[user] = replace(
            record,
            state=TokenState.REVOKED,
            sealed_secret=b"",
            pending_until=None,
            revoked_at=_ms(now),
            revoked_reason=reason,
            qr=None,
        )
        return Revocation(previous_state=record.state, qr=record.qr)

    async def extend(self, user: str, by: timedelta, now: datetime) -> datetime | None:
        self.calls.append("extend")
        record = self.records.get(user)
        if record is None or record.state is not TokenState.ACTIVE:
            return None
        base = max(record.expires_at or _ms(now), _ms(now))
        expires = _ms(base + by)
        self.records[user] = replace(record, expires_at=expires, reminded=frozenset())
        return expires

    async def unlock(self, user: str) -> bool:
        self.calls.append("unlock")
        record = self.records.get(user)
        if record is None:
            return False
        self.records[user] = replace(record, failures=0, failures_since=None, locked_until=None)
        return True

    async def expire_pending(self, now: datetime) -> list[ExpiredEnrolment]:
        self.calls.append("expire_pending")
        now = _ms(now)
        expired: list[ExpiredEnrolment] = []
        for user, record in list(self.records.items()):
            if (
                record.state is TokenState.PENDING
                and record.pending_until is not None
                and record.pending_until <= now
            ):
                del self.records[user]
                expired.append(ExpiredEnrolment(user=user, qr=record.qr))
        return expired

    async def expiring(self, after: datetime, until: datetime) -> list[TokenRecord]:
        self.calls.append("expiring")
        return sorted(
            (
                r
                for r in self.records.values()
                if r.state is TokenState.ACTIVE
                and r.expires_at is not None
                and after < r.expires_at <= until
            ),
            key=lambda r: (r.expires_at, r.user),
        )

    async def claim_reminder(self, user: str, expires_at: datetime, days_before: int) -> bool:
        self.calls.append("claim_reminder")
        record = self.records.get(user)
        if (
            record is None
            or record.state is not TokenState.ACTIVE
            or record.expires_at != _ms(expires_at)
            or days_before in record.reminded
        ):
            return False
        self.records[user] = replace(record, reminded=record.reminded | {days_before})
        return True

    async def list_all(self) -> list[TokenRecord]:
        self.calls.append("list_all")
        return [self.records[user] for user in sorted(self.records)]
