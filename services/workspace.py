"""What changes in the Slack workspace mean for the bot: a person deactivated, a request's
channel closed to it, the app removed.

A deactivated person's signing means end with their account (21 CFR 11.100(a): a signature is
unique to one person and never reused or passed to anyone else): their Approval Token is revoked
and their Atlassian link deleted, both audited, and every open request that names them says
so in its thread. A request whose channel was archived, or that the bot was removed from, stays
signable: its requester is told by DM where (`/approvals pending`, `/approvals approve <id>`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol

from services.approval_token import ApprovalTokens
from services.audit.events import SYSTEM, AuditEvent, Auditor
from services.errors import NotFound, UpstreamError
from services.linking import AccountLinking
from services.requests.model import ApprovalRequest, Status
from services.requests.outcomes import ChannelClosed, SignerDeactivated
from services.requests.ports import Publisher
from services.requests.store import RequestStore

log = logging.getLogger(__name__)

DEACTIVATED_REASON = "deactivated in Slack"


class Installation(Protocol):
    """Whether the app's Slack token still works (uninstalled or revoked: jobs stop posting)."""

    async def mark_removed(self, reason: str) -> bool:
        """Record that the token no longer works; True when this was news."""
        ...

    async def removed(self) -> str | None:
        """Why the token no longer works, or None while it does."""
        ...


class WorkspaceChanges:
    def __init__(
        self,
        *,
        tokens: ApprovalTokens,
        linking: AccountLinking,
        requests: RequestStore,
        publisher: Publisher,
        auditor: Auditor,
        installation: Installation,
    ) -> None:
        self._tokens = tokens
        self._linking = linking
        self._requests = requests
        self._publisher = publisher
        self._auditor = auditor
        self._installation = installation

    async def person_deactivated(self, user: str) -> None:
        """Revoke the person's Approval Token, delete their link, audit it, and say so on every
        open request that names them. Safe to run again (a retried event, a later check)."""
        try:
            await self._tokens.revoke(user, SYSTEM, DEACTIVATED_REASON)
        except NotFound:
            pass  # never enrolled, or already revoked and gone
        await self._linking.disconnect(user)
        await self._auditor.record(
            AuditEvent(actor=SYSTEM, action="person.deactivated", target=f"slack:{user}")
        )
        log.info("person deactivated in Slack: token revoked, link removed", extra={"user": user})
        for request in await self._open_requests():
            requester = request.requester == user
            if not requester and not any(user in stage.signers for stage in request.stages):
                continue
            told = SignerDeactivated(request, user, requester)
            await self._quietly(self._publisher.report(told), request)

    async def channel_closed(self, channel: str, why: str) -> int:
        """Tell the requester of each open request in `channel` where it can still be signed;
        how many were told."""
        told = 0
        for request in await self._open_requests():
            if request.channel != channel:
                continue
            closed = ChannelClosed(request, why)
            if await self._quietly(self._publisher.report(closed), request):
                told += 1
        return told

    async def app_removed(self, reason: str) -> None:
        """The app was uninstalled or its token revoked: jobs stop posting (one log line)."""
        if await self._installation.mark_removed(reason):
            log.warning(
                "slack app removed: background jobs stop posting until a new token is set",
                extra={"reason": reason},
            )

    async def _open_requests(self) -> list[ApprovalRequest]:
        requests = await self._requests.get_many(await self._requests.pending_ids())
        return [r for r in requests if r.status is Status.PENDING]

    async def _quietly(self, sending: Awaitable[None], request: ApprovalRequest) -> bool:
        # One request's Slack failure must not keep the others from being told.
        try:
            await sending
        except UpstreamError as exc:
            log.warning(
                "workspace change not told", extra={"request": request.id, "error": str(exc)}
            )
            return False
        return True
