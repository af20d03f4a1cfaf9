"""What linking stores and whom it tells: the grant store, the OAuth state store, link notices.

The grant store keeps one sealed grant per Slack user, an index of users by last refresh (for the
idle-refresh job) and an index of Atlassian account -> Slack user (one account links one person).
Every write is atomic; `replace` is a compare-and-set on the version, so a refresh that lost its
lock can never overwrite a newer pair. Adapters: bot/stores/linking.py (Redis) and
tests/fakes/linking.py (memory); tests/contract/test_linking_stores.py holds them to one behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.linking.models import LinkStatus, PendingLink


@dataclass(frozen=True)
class StoredGrant:
    """A grant as the store sees it: the sealed document plus the few fields it indexes."""

    user_id: str
    account_id: str
    sealed: bytes = field(repr=False)
    refreshed_at: datetime
    broken: bool
    version: int = 0  # set by the store; 0 for a grant not stored yet


@dataclass(frozen=True)
class LinkWrite:
    """The result of `link`: the new version, or the Slack user who holds the account already."""

    version: int | None = None
    held_by: str | None = None


class GrantStore(Protocol):
    async def get(self, user_id: str) -> StoredGrant | None: ...

    async def link(self, grant: StoredGrant) -> LinkWrite:
        """Store the user's grant, replacing any earlier one of theirs, unless another user
        holds the account (then nothing changes and `held_by` names them)."""
        ...

    async def replace(self, grant: StoredGrant, expected_version: int) -> int | None:
        """Write the grant only if the stored one still has `expected_version`; the new
        version, or None (changed meanwhile, or gone). A broken grant leaves the idle index."""
        ...

    async def delete(self, user_id: str) -> StoredGrant | None:
        """Remove the user's grant (and its index entries); what was removed, if anything."""
        ...

    async def idle(self, refreshed_before: datetime, limit: int) -> list[str]:
        """Users whose working grant was last refreshed before the time, oldest first."""
        ...

    async def holder(self, account_id: str) -> str | None:
        """The Slack user whose link holds this Atlassian account, if anyone's does."""
        ...

    async def list_all(self) -> list[StoredGrant]:
        """Every stored grant (broken ones included), ordered by user: the admin inventory.
        A few round trips in all, never one per user."""
        ...


class LinkStates(Protocol):
    """Single-use OAuth states with a TTL; `take` is atomic, so a state works once."""

    async def put(self, state: str, pending: PendingLink, ttl_seconds: float) -> None: ...

    async def take(self, state: str) -> PendingLink | None:
        """The pending connect for the state, removing it; None if unknown, used or expired."""
        ...


class LinkNotices(Protocol):
    """Tells people about their link (by DM); the words live with the Slack side."""

    async def linked(self, user_id: str, link: LinkStatus) -> None: ...

    async def broken(self, user_id: str, link: LinkStatus) -> None:
        """The link stopped working and was marked broken: ask the user to connect again."""
        ...
