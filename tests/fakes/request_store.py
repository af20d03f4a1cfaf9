"""In-memory `RequestStore` with the Redis adapter's behaviour (held to it by tests/contract)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.requests.model import ApprovalRequest, PageOutcome, Signature, Status
from services.requests.store import Claim, Opening, SubmitAttempt, Tracked, Watch


@dataclass
class _Row:
    request: ApprovalRequest  # without signatures; they live in `signatures`
    signatures: dict[str, Signature] = field(default_factory=dict)
    slots: dict[str, datetime] = field(default_factory=dict)
    attempt: SubmitAttempt | None = None
    poller: str | None = None
    interval: float = 0.0


class MemoryRequestStore:
    """Rows in a dict; no method awaits before it is done, so each is atomic like a Lua script.

    Everything is public so tests can look inside."""

    def __init__(self) -> None:
        self.rows: dict[str, _Row] = {}
        self.expiry: dict[str, datetime] = {}
        self.reminders: dict[str, datetime] = {}
        self.submitting: dict[str, datetime] = {}
        self.tracking: dict[str, datetime] = {}
        self.watched: dict[str, Watch] = {}
        self.seen: set[tuple[str, str]] = set()

    def _view(self, row: _Row) -> ApprovalRequest:
        ordered = sorted(row.signatures.values(), key=lambda s: (s.signed_at, s.signer.slack_id))
        return replace(row.request, signatures=tuple(ordered))

    def _set(self, row: _Row, **changes: object) -> None:
        row.request = row.request.with_changes(**changes)

    async def create(self, request: ApprovalRequest, remind_at: datetime | None) -> bool:
        if request.id in self.rows:
            return False
        row = _Row(request.with_changes(status=Status.PENDING, signatures=(), reminded=False))
        for signature in request.signatures:
            row.signatures[signature.signer.slack_id] = signature
        self.rows[request.id] = row
        self.expiry[request.id] = request.expires_at
        if remind_at is not None:
            self.reminders[request.id] = remind_at
        return True

    async def get(self, request_id: str) -> ApprovalRequest | None:
        row = self.rows.get(request_id)
        return self._view(row) if row is not None else None

    async def get_many(self, request_ids: Sequence[str]) -> list[ApprovalRequest]:
        return [self._view(self.rows[i]) for i in request_ids if i in self.rows]

    async def set_message(self, request_id: str, ts: str) -> None:
        row = self.rows.get(request_id)
        if row is not None:
            self._set(row, message_ts=ts)

    async def open_signing(
        self, request_id: str, user: str, now: datetime, hold_until: datetime
    ) -> Opening:
        row = self.rows.get(request_id)
        if row is None:
            return Opening(Claim.MISSING, None)
        request = self._view(row)
        if user in row.signatures:
            return Opening(Claim.SIGNED, request)
        if row.request.status is not Status.PENDING:
            return Opening(Claim.CLOSED, request)
        held = row.slots.get(user)
        if held is not None and held > now:
            return Opening(Claim.BUSY, request)
        row.slots[user] = hold_until
        return Opening(Claim.OK, request)

    async def release_signing(self, request_id: str, user: str) -> None:
        row = self.rows.get(request_id)
        if row is not None:
            row.slots.pop(user, None)

    def _sign(self, request_id: str, signature: Signature) -> tuple[_Row | None, Claim]:
        row = self.rows.get(request_id)
        if row is None:
            return None, Claim.MISSING
        user = signature.signer.slack_id
        row.slots.pop(user, None)
        if user in row.signatures:
            return row, Claim.SIGNED
        if row.request.status is not Status.PENDING:
            return row, Claim.CLOSED
        row.signatures[user] = signature
        return row, Claim.OK

    async def begin_approval(
        self, request_id: str, signature: Signature, attempt: SubmitAttempt, lease_until: datetime
    ) -> Claim:
        row, claim = self._sign(request_id, signature)
        if row is not None and claim is Claim.OK:
            self._set(row, status=Status.SUBMITTING, last_error=None)
            row.attempt = attempt
            self.submitting[request_id] = lease_until
        return claim

    async def record_rejection(self, request_id: str, signature: Signature) -> Claim:
        row, claim = self._sign(request_id, signature)
        if row is not None and claim is Claim.OK:
            self._set(row, status=Status.REJECTED, last_error=None)
            self.expiry.pop(request_id, None)
            self.reminders.pop(request_id, None)
        return claim

    def _holding(self, request_id: str, attempt_id: str) -> _Row | None:
        row = self.rows.get(request_id)
        if row is None or row.request.status is not Status.SUBMITTING:
            return None
        if row.attempt is None or row.attempt.attempt_id != attempt_id:
            return None
        return row

    async def finish_submit(
        self,
        request_id: str,
        attempt_id: str,
        outcomes: Sequence[PageOutcome],
        *,
        poller: str,
        poll_at: datetime,
        interval_seconds: float,
        note: str | None = None,
    ) -> bool:
        row = self._holding(request_id, attempt_id)
        if row is None:
            return False
        self._set(row, status=Status.SUBMITTED, outcomes=tuple(outcomes), last_error=note)
        row.attempt = None
        row.poller, row.interval = poller, interval_seconds
        for index in (self.submitting, self.expiry, self.reminders):
            index.pop(request_id, None)
        self.tracking[request_id] = poll_at
        return True

    async def fail_submit(self, request_id: str, attempt_id: str, error: str) -> bool:
        row = self._holding(request_id, attempt_id)
        if row is None or row.attempt is None:
            return False
        row.signatures.pop(row.attempt.signer.slack_id, None)
        row.attempt = None
        self._set(row, status=Status.PENDING, last_error=error)
        self.submitting.pop(request_id, None)
        return True

    async def note_error(self, request_id: str, attempt_id: str, error: str) -> bool:
        row = self._holding(request_id, attempt_id)
        if row is None:
            return False
        self._set(row, last_error=error)
        return True

    async def stuck_submits(self, now: datetime) -> list[str]:
        return [i for i, until in sorted(self.submitting.items(), key=_by_time) if until <= now]

    async def reclaim_submit(
        self, request_id: str, now: datetime, attempt_id: str, lease_until: datetime
    ) -> SubmitAttempt | None:
        until = self.submitting.get(request_id)
        if until is None or until > now:
            return None
        row = self.rows.get(request_id)
        if row is None or row.request.status is not Status.SUBMITTING or row.attempt is None:
            self.submitting.pop(request_id, None)
            return None
        row.attempt = replace(row.attempt, attempt_id=attempt_id)
        self.submitting[request_id] = lease_until
        return row.attempt

    async def pending_ids(self) -> list[str]:
        return [i for i, _ in sorted(self.expiry.items(), key=_by_time)]

    async def due_expiry(self, now: datetime) -> list[str]:
        return [i for i, at in sorted(self.expiry.items(), key=_by_time) if at <= now]

    async def expire(self, request_id: str, now: datetime) -> bool:
        row = self.rows.get(request_id)
        if row is None or row.request.status not in (Status.PENDING, Status.SUBMITTING):
            self.expiry.pop(request_id, None)
            self.reminders.pop(request_id, None)
            return False
        if row.request.status is Status.SUBMITTING or row.request.expires_at > now:
            return False
        self._set(row, status=Status.EXPIRED)
        self.expiry.pop(request_id, None)
        self.reminders.pop(request_id, None)
        return True

    async def due_reminders(self, now: datetime) -> list[str]:
        return [i for i, at in sorted(self.reminders.items(), key=_by_time) if at <= now]

    async def claim_reminder(self, request_id: str) -> bool:
        row = self.rows.get(request_id)
        if row is not None and row.request.status is Status.SUBMITTING:
            return False  # it may come back to PENDING and still need its reminder
        self.reminders.pop(request_id, None)
        if row is None or row.request.status is not Status.PENDING or row.request.reminded:
            return False
        self._set(row, reminded=True)
        return True

    async def due_tracking(self, now: datetime) -> list[str]:
        return [i for i, at in sorted(self.tracking.items(), key=_by_time) if at <= now]

    async def claim_tracking(
        self, request_id: str, now: datetime, until: datetime
    ) -> Tracked | None:
        at = self.tracking.get(request_id)
        if at is None or at > now:
            return None
        row = self.rows.get(request_id)
        if row is None or row.request.status is not Status.SUBMITTED or row.poller is None:
            self.tracking.pop(request_id, None)
            return None
        self.tracking[request_id] = until
        return Tracked(self._view(row), row.poller, row.interval)

    async def update_tracking(
        self,
        request_id: str,
        rollup_state: str | None,
        interval_seconds: float,
        next_poll_at: datetime | None,
    ) -> bool:
        row = self.rows.get(request_id)
        if row is None or row.request.status is not Status.SUBMITTED:
            self.tracking.pop(request_id, None)
            return False
        row.interval = interval_seconds
        self._set(row, rollup_state=rollup_state)
        if next_poll_at is None:
            self._set(row, status=Status.CLOSED)
            self.tracking.pop(request_id, None)
        else:
            self.tracking[request_id] = next_poll_at
        return True

    async def add_watch(self, watch: Watch) -> None:
        self.watched[watch.space_id] = watch

    async def remove_watch(self, space_id: str) -> bool:
        return self.watched.pop(space_id, None) is not None

    async def watches(self) -> list[Watch]:
        return [self.watched[space] for space in sorted(self.watched)]

    async def claim_seen(self, space_id: str, change_set_id: str) -> bool:
        if (space_id, change_set_id) in self.seen:
            return False
        self.seen.add((space_id, change_set_id))
        return True

    async def forget_seen(self, space_id: str, change_set_id: str) -> None:
        self.seen.discard((space_id, change_set_id))


def _by_time(item: tuple[str, datetime]) -> tuple[datetime, str]:
    return item[1], item[0]
