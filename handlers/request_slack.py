"""Slack implementations of the requests ports: `Publisher` (the message, its thread, DMs) and
`GroupMembers` (usergroups.users.list). Slack failures leave here as our own errors."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.requests import cannot_post_text, note_message, request_message
from handlers.messages import GROUP_UNKNOWN
from handlers.slack_adapters import SLACK_FAILURES, slack_failure
from services.errors import InputError, NotFound, UpstreamError, UpstreamUnavailable
from services.requests.model import ApprovalRequest

log = logging.getLogger(__name__)

# chat.postMessage answers these when the channel cannot take the bot's message: the person who
# named the channel can fix it, so they are input errors rather than outages.
_CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
_GROUP_GONE = frozenset({"no_such_subteam", "subteam_not_found", "invalid_usergroup"})


def _upstream(what: str, exc: BaseException) -> UpstreamError:
    return UpstreamUnavailable(f"Slack did not take {what} ({slack_failure(exc)})")


class SlackRequestPublisher:
    """`Publisher`: one channel message per request, rewritten in place by its ts; thread
    replies under it; DMs. Every message is valid Block Kit and says "sandbox" in sandbox mode."""

    def __init__(self, client: AsyncWebClient, *, site_url: str, sandbox: bool) -> None:
        self._client = client
        self._site_url = site_url
        self._sandbox = sandbox

    async def publish(self, request: ApprovalRequest) -> str:
        text, blocks = request_message(request, site_url=self._site_url, sandbox=self._sandbox)
        if request.message_ts:
            try:
                await self._client.chat_update(
                    channel=request.channel, ts=request.message_ts, text=text, blocks=blocks
                )
                return request.message_ts
            except SlackApiError as exc:
                if exc.response.get("error") != "message_not_found":
                    raise _upstream("the update of the request message", exc) from None
                # Someone deleted it: post it again, so the channel keeps a truthful copy.
                log.warning(
                    "request message gone; posting it again",
                    extra={"request": request.id, "channel": request.channel},
                )
            except SLACK_FAILURES as exc:
                raise _upstream("the update of the request message", exc) from None
        try:
            posted = await self._client.chat_postMessage(
                channel=request.channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in _CANNOT_POST:
                raise InputError(cannot_post_text(error, request.channel)) from None
            raise _upstream("the request message", exc) from None
        except SLACK_FAILURES as exc:
            raise _upstream("the request message", exc) from None
        return str(posted["ts"])

    async def thread_note(self, request: ApprovalRequest, text: str) -> None:
        body, blocks = note_message(text, self._sandbox)
        try:
            await self._client.chat_postMessage(
                channel=request.channel,
                thread_ts=request.message_ts,
                text=body,
                blocks=blocks,
                unfurl_links=False,
            )
        except SLACK_FAILURES as exc:
            raise _upstream("a reply in the request's thread", exc) from None

    async def tell(self, user_id: str, request: ApprovalRequest, text: str) -> None:
        body, blocks = note_message(text, self._sandbox)
        try:
            # A user id as the channel posts in the app's DM with that person.
            await self._client.chat_postMessage(
                channel=user_id, text=body, blocks=blocks, unfurl_links=False
            )
        except SLACK_FAILURES as exc:
            raise _upstream("a direct message", exc) from None


class SlackGroupMembers:
    """`GroupMembers`: who is in a user group now (usergroups.users.list, usergroups:read)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def members(self, group_id: str) -> frozenset[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            if exc.response.get("error") in _GROUP_GONE:
                raise NotFound(GROUP_UNKNOWN.format(group=group_id)) from None
            raise _upstream("the user group lookup", exc) from None
        except SLACK_FAILURES as exc:
            raise _upstream("the user group lookup", exc) from None
        users = response.get("users") or []
        return frozenset(str(user) for user in users if isinstance(user, str))

    async def handles(self) -> dict[str, str]:
        """Every user group of the workspace by handle (usergroups.list), for a policy file's
        `@handle` signers."""
        try:
            response = await self._client.usergroups_list(include_disabled=False)
        except SLACK_FAILURES as exc:
            raise _upstream("the user group list", exc) from None
        found = {}
        for group in response.get("usergroups") or []:
            if isinstance(group, dict) and group.get("handle") and group.get("id"):
                found[str(group["handle"])] = str(group["id"])
        return found
