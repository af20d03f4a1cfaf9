"""Who is an admin: workspace admins and owners (users.info) plus ADMIN_USER_IDS, every time."""

from __future__ import annotations

from services.admin.models import Admin
from services.admin.ports import LinkRoster
from services.audit.events import Actor, AuditEvent, Auditor
from services.errors import NotAnAdmin, NotFound
from services.ports import Directory


class AdminAccess:
    """The server-side check in front of every admin command, button and form.

    Nothing is cached: someone who stops being an admin loses access at their next click. A
    refusal is audited as `admin.refused`, because a non-admin reaching an admin button means a
    forged or replayed payload (11.300(d))."""

    def __init__(
        self,
        *,
        directory: Directory,
        admin_ids: frozenset[str],
        links: LinkRoster,
        auditor: Auditor,
    ) -> None:
        self._directory = directory
        self._admin_ids = admin_ids
        self._links = links
        self._auditor = auditor

    async def require(self, user_id: str, attempted: str, target: str = "") -> Admin:
        """The admin, with the actor to audit; raises NotAllowed (audited) for anyone else.

        `attempted` names the operation (`tokens.list`, `token.reset` ...), `target` what it
        would have touched. Slack failing to answer raises UpstreamError: never allow blind."""
        try:
            profile = await self._directory.user(user_id)
        except NotFound:
            # Slack does not know this id: the payload is forged, or the account is gone.
            await self._refuse(Actor(slack_id=user_id), attempted, target)
            raise NotAnAdmin(_command(attempted)) from None
        if not (profile.is_admin or user_id in self._admin_ids):
            await self._refuse(Actor(slack_id=user_id, name=profile.name), attempted, target)
            raise NotAnAdmin(_command(attempted))
        return await self._admin(user_id, profile.name)

    async def check(self, user_id: str) -> Admin | None:
        """The admin, or None: for features open to admins among others, which audit their own
        refusals. Slack failing to answer raises UpstreamError, as for `require`."""
        try:
            profile = await self._directory.user(user_id)
        except NotFound:
            return None
        if not (profile.is_admin or user_id in self._admin_ids):
            return None
        return await self._admin(user_id, profile.name)

    async def _admin(self, user_id: str, slack_name: str) -> Admin:
        entry = await self._links.entry(user_id)
        link = entry.link if entry is not None else None
        # The printed name is the Atlassian display name when linked (21 CFR 11.50), as for
        # every other actor in the trail; otherwise the Slack name.
        if link is not None:
            return Admin(Actor(user_id, link.account_id, link.name))
        return Admin(Actor(user_id, None, slack_name))

    async def _refuse(self, actor: Actor, attempted: str, target: str) -> None:
        await self._auditor.record(
            AuditEvent(
                actor=actor,
                action="admin.refused",
                target=target or f"admin:{attempted}",
                reason="not a workspace admin or owner, nor in ADMIN_USER_IDS",
                details={"attempted": attempted},
            )
        )


def _command(attempted: str) -> str:
    """The slash command the refused operation belongs to."""
    return "audit" if attempted.startswith("audit") else "tokens"
