"""The grant store seen through SecretBox: grants go in and come out, sealed in between."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from services.linking.models import Grant
from services.linking.ports import GrantStore, LinkWrite, StoredGrant
from services.secretbox import SecretBox

# How long a grant this process read may be reused by callers that allow it (one signature reads
# the link once, not once per ApprovalFlow call). Writes in this process update it at once;
# another process's disconnect is seen within this time. The refresh protocol never uses it.
RECENT_SECONDS = 5.0
_MAX_RECENT = 10_000


class SealedGrants:
    """Every grant is encrypted whole before it reaches the store (ARCHITECTURE §7)."""

    def __init__(
        self,
        store: GrantStore,
        box: SecretBox,
        *,
        recent_seconds: float = RECENT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._box = box
        self._recent_seconds = recent_seconds
        self._monotonic = monotonic
        self._recent: dict[str, tuple[float, Grant]] = {}

    def _remember(self, user_id: str, grant: Grant | None) -> Grant | None:
        if grant is None:
            self._recent.pop(user_id, None)
            return None
        if len(self._recent) >= _MAX_RECENT:
            self._recent.clear()  # rare; only costs reads
        self._recent[user_id] = (self._monotonic(), grant)
        return grant

    def _seal(self, grant: Grant) -> StoredGrant:
        return StoredGrant(
            user_id=grant.user_id,
            account_id=grant.account_id,
            sealed=self._box.seal_json(grant.to_document()),
            refreshed_at=grant.last_refreshed_at,
            broken=grant.broken,
            version=grant.version,
        )

    def _open(self, stored: StoredGrant) -> Grant:
        return Grant.from_document(self._box.open_json(stored.sealed), stored.version)

    async def get(self, user_id: str, *, recent_ok: bool = False) -> Grant | None:
        """The stored grant; with `recent_ok`, one this process read in the last few seconds."""
        if recent_ok:
            hit = self._recent.get(user_id)
            if hit is not None and self._monotonic() - hit[0] < self._recent_seconds:
                return hit[1]
        stored = await self._store.get(user_id)
        return self._remember(user_id, None if stored is None else self._open(stored))

    async def holder(self, account_id: str) -> str | None:
        """The Slack user linked to this Atlassian account (no secret is opened)."""
        return await self._store.holder(account_id)

    async def link(self, grant: Grant) -> LinkWrite:
        self._recent.pop(grant.user_id, None)
        return await self._store.link(self._seal(grant))

    async def replace(self, grant: Grant) -> Grant | None:
        """Write `grant` over the stored version it was read at; None if that changed."""
        self._recent.pop(grant.user_id, None)
        version = await self._store.replace(self._seal(grant), expected_version=grant.version)
        return None if version is None else replace(grant, version=version)

    async def delete(self, user_id: str) -> Grant | None:
        self._recent.pop(user_id, None)
        stored = await self._store.delete(user_id)
        return None if stored is None else self._open(stored)

    async def idle(self, refreshed_before: datetime, limit: int) -> list[str]:
        return await self._store.idle(refreshed_before, limit)
