"""What the admin features read and whom they tell: links in bulk, member names, user notices."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from services.admin.models import LinkEntry
from services.approval_token import QrMessage
from services.audit.events import Actor


class LinkRoster(Protocol):
    """Atlassian links without their tokens (services/admin/links.py implements it)."""

    async def all_links(self) -> list[LinkEntry]:
        """Every stored link, in a few store round trips."""
        ...

    async def entry(self, user_id: str) -> LinkEntry | None: ...


class MemberNames(Protocol):
    """Printed Slack names of workspace members (users.list), for exports."""

    async def names(self) -> dict[str, str]: ...


class TokenAdminNotices(Protocol):
    """Tells a user what an admin did to their Approval Token (by DM; Slack implements it).

    A notice that cannot be delivered is logged, never raised: the change is already made."""

    async def extended(self, user: str, expires_at: datetime, by: Actor) -> None: ...

    async def reset(self, user: str, by: Actor, qr: QrMessage | None) -> None:
        """Also delete the DM of a pending enrolment (`qr`) that the reset made useless."""
        ...

    async def unlocked(self, user: str, by: Actor) -> None: ...
