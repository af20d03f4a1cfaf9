"""In-memory `RequestStore` with the Redis adapter's behaviour (held to it by tests/contract)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.requests.model import ApprovalRequest, Index
from services.requests.store import Claim, Opening, Watch


@dataclass
class _Row:
    request: ApprovalRequest  # as saved, with its version
    message_ts: str | None = None
    slots: dict[str, datetime] = field(default_factory=dict)


class MemoryRequestStore:
    """Rows in a dict; no method awaits before it is done, so each is atomic like a Lua script.
    The indexes are read from each request's `schedule()`, as the Redis store writes them.

    Everything is public so tests can look inside."""

    def __init__(self) -> None:
        self.rows: dict[str, _Row] = {}
        self.watched: dict[str, Watch] = {}
        self.seen: set[tuple[str, str]] = set()

    def _view(self, row: _Row) -> ApprovalRequest:
        if row.message_ts is None:
            return row.request
        return row.request.with_changes(message_ts=row.message_ts)

    def scheduled(self, index: Index) -> dict[str, datetime]:
        """The index as the Redis store holds it: id -> when it is due."""
        listed = {}
        for request_id, row in self.rows.items():
            when = row.request.schedule()[index]
            if when is not None:
                listed[request_id] = when
        return listed

    async def create(self, request: ApprovalRequest) -> ApprovalRequest | None:
        if request.id in self.rows:
            return None
        stored = request.with_changes(version=1)
        self.rows[request.id] = _Row(stored, message_ts=request.message_ts)
        return stored

    async def save(
        self, request: ApprovalRequest, *, release: str | None = None
    ) -> ApprovalRequest | None:
        if request.version < 1:
            raise ValueError("save() writes a stored request; a new one is create()")
        row = self.rows.get(request.id)
        if row is None or row.request.version != request.version:
            return None
        # What never changes after create stays as created, as on Redis.
        kept = row.request
        stored = request.with_changes(
            version=request.version + 1,
            target=kept.target,
            title=kept.title,
            requester=kept.requester,
            channel=kept.channel,
            created_at=kept.created_at,
            expires_at=kept.expires_at,
            snapshot=kept.snapshot,
            summary=kept.summary,
            reference_url=kept.reference_url,
            source=kept.source,
            extra=kept.extra,
            message_ts=kept.message_ts,
        )
        row.request = stored
        if release is not None:
            row.slots.pop(release, None)
        return self._view(row)

    async def get(self, request_id: str) -> ApprovalRequest | None:
        row = self.rows.get(request_id)
        return self._view(row) if row is not None else None

    async def get_many(self, request_ids: Sequence[str]) -> list[ApprovalRequest]:
        return [self._view(self.rows[i]) for i in request_ids if i in self.rows]

    async def set_message(self, request_id: str, ts: str) -> None:
        row = self.rows.get(request_id)
        if row is not None:
            row.message_ts = ts

    async def open_signing(
        self, request_id: str, user: str, now: datetime, hold_until: datetime
    ) -> Opening:
        row = self.rows.get(request_id)
        if row is None:
            return Opening(Claim.MISSING, None)
        held = row.slots.get(user)
        if held is not None and held > now:
            return Opening(Claim.BUSY, self._view(row))
        row.slots[user] = hold_until
        return Opening(Claim.OK, self._view(row))

    async def release_signing(self, request_id: str, user: str) -> None:
        row = self.rows.get(request_id)
        if row is not None:
            row.slots.pop(user, None)

    async def due(self, index: Index, now: datetime) -> list[str]:
        listed = self.scheduled(index)
        return sorted((i for i, at in listed.items() if at <= now), key=lambda i: (listed[i], i))

    async def pending_ids(self) -> list[str]:
        listed = self.scheduled(Index.EXPIRY)
        return sorted(listed, key=lambda i: (listed[i], i))

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
