"""`Identities` from account linking: a Slack user's working link, as requests need it."""

from __future__ import annotations

from services.errors import LinkBroken, NotLinked
from services.linking import AccountLinking
from services.requests.ports import LinkedIdentity


class LinkIdentities:
    """Implements `Identities` with `AccountLinking.status` (one store read, no tokens)."""

    def __init__(self, linking: AccountLinking) -> None:
        self._linking = linking

    async def slack_user_of(self, account_id: str) -> str | None:
        return await self._linking.holder(account_id)

    async def identity(self, user_id: str) -> LinkedIdentity:
        link = await self._linking.status(user_id)
        if link is None:
            raise NotLinked()
        if link.broken:
            raise LinkBroken()
        return LinkedIdentity(
            account_id=link.account_id, name=link.name, email=link.email, scopes=link.scopes
        )
