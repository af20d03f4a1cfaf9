"""In-memory `GrantStore` and `LinkStates` with the Redis adapters' behaviour (tests/contract)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.linking.models import PendingLink, from_ms, to_ms
from services.linking.ports import LinkWrite, StoredGrant
from tests.fakes.clock import FakeClock


def _ms(when: datetime) -> datetime:
    """Truncate to the millisecond, as Redis stores it."""
    return from_ms(to_ms(when))


class MemoryGrantStore:
    """Grants in a dict; no method awaits before it is done, so each is atomic like a script.

    `grants` and `accounts` are public so tests can look inside."""

    def __init__(self) -> None:
        self.grants: dict[str, StoredGrant] = {}
        self.accounts: dict[str, str] = {}

    async def get(self, user_id: str) -> StoredGrant | None:
        return self.grants.get(user_id)

    async def link(self, grant: StoredGrant) -> LinkWrite:
        holder = self.accounts.get(grant.account_id)
        if holder is not None and holder != grant.user_id:
            return LinkWrite(held_by=holder)
        old = self.grants.get(grant.user_id)
        if old is not None and old.account_id != grant.account_id:
            self.accounts.pop(old.account_id, None)
        version = (old.version if old else 0) + 1
        self.grants[grant.user_id] = replace(
            grant, version=version, broken=False, refreshed_at=_ms(grant.refreshed_at)
        )
        self.accounts[grant.account_id] = grant.user_id
        return LinkWrite(version=version)

    async def replace(self, grant: StoredGrant, expected_version: int) -> int | None:
        old = self.grants.get(grant.user_id)
        if old is None or old.version != expected_version:
            return None
        version = old.version + 1
        self.grants[grant.user_id] = replace(
            old,
            sealed=grant.sealed,
            refreshed_at=_ms(grant.refreshed_at),
            broken=grant.broken,
            version=version,
        )
        return version

    async def delete(self, user_id: str) -> StoredGrant | None:
        old = self.grants.pop(user_id, None)
        if old is not None and self.accounts.get(old.account_id) == user_id:
            del self.accounts[old.account_id]
        return old

    async def idle(self, refreshed_before: datetime, limit: int) -> list[str]:
        cutoff = _ms(refreshed_before)
        working = sorted(
            (g for g in self.grants.values() if not g.broken and g.refreshed_at < cutoff),
            key=lambda g: (g.refreshed_at, g.user_id),
        )
        return [g.user_id for g in working[:limit]]

    async def holder(self, account_id: str) -> str | None:
        return self.accounts.get(account_id)

    async def list_all(self) -> list[StoredGrant]:
        return [self.grants[user] for user in sorted(self.grants)]


class MemoryLinkStates:
    """States in a dict with expiry by the FakeClock."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.states: dict[str, tuple[PendingLink, float]] = {}

    async def put(self, state: str, pending: PendingLink, ttl_seconds: float) -> None:
        until = self._clock.now().timestamp() + ttl_seconds
        self.states[state] = (replace(pending, created_at=_ms(pending.created_at)), until)

    async def take(self, state: str) -> PendingLink | None:
        entry = self.states.pop(state, None)
        if entry is None or entry[1] <= self._clock.now().timestamp():
            return None
        return entry[0]
