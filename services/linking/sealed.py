"""The grant store seen through SecretBox: grants go in and come out, sealed in between."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.linking.models import Grant
from services.linking.ports import GrantStore, LinkWrite, StoredGrant
from services.secretbox import SecretBox


class SealedGrants:
    """Every grant is encrypted whole before it reaches the store (ARCHITECTURE §7)."""

    def __init__(self, store: GrantStore, box: SecretBox) -> None:
        self._store = store
        self._box = box

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

    async def get(self, user_id: str) -> Grant | None:
        stored = await self._store.get(user_id)
        return None if stored is None else self._open(stored)

    async def link(self, grant: Grant) -> LinkWrite:
        return await self._store.link(self._seal(grant))

    async def replace(self, grant: Grant) -> Grant | None:
        """Write `grant` over the stored version it was read at; None if that changed."""
        version = await self._store.replace(self._seal(grant), expected_version=grant.version)
        return None if version is None else replace(grant, version=version)

    async def delete(self, user_id: str) -> Grant | None:
        stored = await self._store.delete(user_id)
        return None if stored is None else self._open(stored)

    async def idle(self, refreshed_before: datetime, limit: int) -> list[str]:
        return await self._store.idle(refreshed_before, limit)
