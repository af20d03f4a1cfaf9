"""`Publisher` for approval requests: one channel message per request, rewritten in place by its
ts; each outcome's thread replies and DM in handlers/blocks/outcomes.py's words. Every message
is valid Block Kit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.slack.api import SlackApi
from handlers.blocks.outcomes import failure_reason, kept_note, words
from handlers.blocks.requests import cannot_post_text, note_message, request_message
from services.errors import ApprovalsError, InputError, SlackChannelClosed, SlackGone
from services.requests.model import ApprovalRequest, Status
from services.requests.outcomes import Outcome
from services.requests.ports import GroupMembers

log = logging.getLogger(__name__)


# How long a user group's member list is reused for showing who may still sign: the message
# is rewritten on every signature, and usergroups.users.list is a slow-tier Slack method.
# Only what is shown uses it; whether someone may sign is always asked afresh.
MEMBERS_SHOWN_FOR_SECONDS = 60.0


class SlackRequestPublisher:
    def __init__(
        self,
        api: SlackApi,
        *,
        site_url: str,
        groups: GroupMembers | None = None,
        allow_self: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._site_url = site_url
        self._groups = groups
        self._allow_self = allow_self
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def publish(self, request: ApprovalRequest) -> str:
        text, blocks = request_message(
            request,
            site_url=self._site_url,
            members=await self._open_stage_members(request),
            allow_self=self._allow_self,
        )
        if request.message_ts:
            try:
                await self._api.update_message(request.channel, request.message_ts, text, blocks)
                return request.message_ts
            except SlackGone:
                # Someone deleted it: post it again, so the channel keeps a truthful copy.
                log.warning(
                    "request message gone; posting it again",
                    extra={"request": request.id, "channel": request.channel},
                )
        try:
            return await self._api.post_message(request.channel, text, blocks)
        except SlackChannelClosed as exc:
            # The person who named the channel can fix it: an input error, not an outage.
            raise InputError(cannot_post_text(exc.error, request.channel)) from None

    async def _open_stage_members(self, request: ApprovalRequest) -> dict[str, frozenset[str]]:
        """The members of the open stage's user groups that Slack lists now (a group Slack
        does not answer for is left out: the message then names the group alone)."""
        index = request.open_stage
        if self._groups is None or request.status is not Status.PENDING or index is None:
            return {}
        found = {}
        for group in request.stages[index].groups:
            kept = self._members.get(group)
            if kept is not None and self._clock() - kept[0] < MEMBERS_SHOWN_FOR_SECONDS:
                found[group] = kept[1]
                continue
            try:
                members = await self._groups.members(group)
            except ApprovalsError as exc:
                log.info("group members not shown", extra={"group": group, "error": str(exc)})
                continue
            self._members[group] = (self._clock(), members)
            found[group] = members
        return found

    async def report(self, outcome: Outcome) -> None:
        told = words(outcome)
        request = outcome.request
        for reply in told.thread:
            body, blocks = note_message(reply)
            await self._api.post_message(
                request.channel, body, blocks, thread_ts=request.message_ts
            )
        if told.dm is not None:
            body, blocks = note_message(told.dm)
            # A user id as the channel posts in the app's DM with that person.
            await self._api.post_message(request.requester, body, blocks)

    def kept_note(self, outcome: Outcome) -> str:
        return kept_note(outcome)

    def failure_reason(self, error: ApprovalsError) -> str:
        return failure_reason(error)
