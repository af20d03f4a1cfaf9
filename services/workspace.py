"""What changes in the Slack workspace mean for the bot: a person deactivated, a request's
channel closed to it, the app removed.

A deactivated person's signing means end with their account (21 CFR 11.100(a): a signature is
unique to one person and never reused or passed to anyone else): their Approval Token is revoked
and their Atlassian link deleted, both audited, and every open request that names them says
so in its thread. Slack says so by a `user_change` event, or by users.info at any look-up
(`CheckedDirectory`; `check_people` looks up, in turns, everyone still holding a token or a
link, for an event the bot missed). A request whose channel was archived, or that the bot was
removed from, stays signable: its requester is told by DM where (`/approvals pending`,
`/approvals approve <id>`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from services.admin.ports import LinkRoster
from services.approval_token import ApprovalTokens
from services.approval_token.service import Condition
from services.audit.events import SYSTEM, AuditEvent, Auditor
from services.errors import Deactivated, NotFound, UpstreamError
from services.linking import AccountLinking
from services.ports import Directory, SlackUser
from services.requests.model import ApprovalRequest, Status
from services.requests.outcomes import ChannelClosed, SignerDeactivated
from services.requests.ports import Publisher
from services.requests.store import RequestStore

log = logging.getLogger(__name__)

DEACTIVATED_REASON = "deactivated in Slack"
# People looked up per `check_people` run: each is a users.info (Tier 4), paced, so a run of a
# large workspace still ends in minutes and leaves Slack's rate to people's own look-ups; the
# next runs go on from where it stopped, so everyone is checked every len(held)/batch runs.
# (users.list would give everyone's `deleted` 200 at a time, but at Tier 2 and over the whole
# workspace: fewer calls only where most members hold a token.)
CHECK_BATCH = 200
# Token conditions that still hold something a deactivation takes away.
_HELD = frozenset({Condition.ACTIVE, Condition.LOCKED, Condition.PENDING, Condition.EXPIRED})


class Installation(Protocol):
    """Whether the app's Slack token still works (uninstalled or revoked: jobs stop posting)."""

    async def mark_removed(self, reason: str) -> bool:
        """Record that the token no longer works; True when this was news."""
        ...

    async def removed(self) -> str | None:
        """Why the token no longer works, or None while it does."""
        ...


class Bookmark(Protocol):
    """Where a job that works through a list in turns got to, for whichever process runs it
    next."""

    async def get(self) -> str:
        """The last item done; "" before the first."""
        ...

    async def set(self, value: str) -> None: ...


class CheckedDirectory:
    """`Directory` whose every look-up is also a check: a person Slack answers as deactivated
    is handed to the deactivation (`WorkspaceChanges.person_deactivated`, set by `report_to`)
    and is then not found, so no caller acts for them."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._deactivated: Callable[[str], Awaitable[None]] | None = None

    def report_to(self, deactivated: Callable[[str], Awaitable[None]]) -> None:
        # Set once the deactivation is built: it needs linking, which needs this directory.
        self._deactivated = deactivated

    async def user(self, user_id: str) -> SlackUser:
        profile = await self._directory.user(user_id)
        if not profile.deleted:
            return profile
        if self._deactivated is None:
            raise RuntimeError("report_to not called")
        await self._deactivated(user_id)
        raise Deactivated(user_id)


class WorkspaceChanges:
    def __init__(
        self,
        *,
        tokens: ApprovalTokens,
        linking: AccountLinking,
        links: LinkRoster,
        directory: Directory,  # the plain look-up (paced: it is a job's), not a CheckedDirectory
        requests: RequestStore,
        publisher: Publisher,
        auditor: Auditor,
        installation: Installation,
        checked: Bookmark,  # the last person `check_people` looked up
        check_batch: int = CHECK_BATCH,
    ) -> None:
        self._checked = checked
        self._check_batch = check_batch
        self._tokens = tokens
        self._linking = linking
        self._links = links
        self._directory = directory
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

    async def check_people(self) -> list[str]:
        """Look up in Slack (users.info) the next `check_batch` of everyone who still holds an
        Approval Token or a link, in turn after the last run's, and deactivate those Slack
        says were deactivated; who they were. For a `user_change` the bot never got (it was
        down, or Slack gave up retrying)."""
        held = {s.user for s in await self._tokens.all_statuses() if s.condition in _HELD}
        held |= {entry.user_id for entry in await self._links.all_links()}
        last = await self._checked.get()
        order = sorted(held)
        turn = [u for u in order if u > last] + [u for u in order if u <= last]
        deactivated: list[str] = []
        checked = ""
        try:
            for user in turn[: self._check_batch]:
                try:
                    profile = await self._directory.user(user)
                except NotFound:
                    profile = None  # unknown to Slack: nothing says they were deactivated
                if profile is not None and profile.deleted:
                    await self.person_deactivated(user)
                    deactivated.append(user)
                checked = user
        finally:
            # A run cut short (Slack down) goes on from there next time.
            if checked:
                await self._checked.set(checked)
        return deactivated

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
