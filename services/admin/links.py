"""`LinkRoster` over the linking `GrantStore`: opens each sealed grant and keeps no token."""

from __future__ import annotations

import logging

from services.admin.models import LinkEntry
from services.errors import SecretError
from services.linking import GrantStore, LinkStatus
from services.linking.models import Grant
from services.linking.ports import StoredGrant
from services.secretbox import SecretBox

log = logging.getLogger(__name__)


class SealedLinkRoster:
    """Reads grants in bulk; only the `LinkStatus` (name, email, scopes, broken) leaves here."""

    def __init__(self, store: GrantStore, box: SecretBox) -> None:
        self._store = store
        self._box = box

    async def all_links(self) -> list[LinkEntry]:
        return [self._entry(stored) for stored in await self._store.list_all()]

    async def entry(self, user_id: str) -> LinkEntry | None:
        stored = await self._store.get(user_id)
        return None if stored is None else self._entry(stored)

    def _entry(self, stored: StoredGrant) -> LinkEntry:
        try:
            grant = Grant.from_document(self._box.open_json(stored.sealed), stored.version)
        except SecretError as exc:
            # One grant sealed with a retired key must not hide everyone else's row.
            log.warning("unreadable grant", extra={"user": stored.user_id, "error": str(exc)})
            return LinkEntry(stored.user_id, None)
        return LinkEntry(stored.user_id, LinkStatus.of(grant))
