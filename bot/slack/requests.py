"""`Publisher` for approval requests: one channel message per request, rewritten in place by its
ts; thread replies under it; DMs. Every message is valid Block Kit and says "sandbox" in sandbox
mode."""

from __future__ import annotations

import logging

from bot.slack.api import SlackApi
from handlers.blocks.requests import cannot_post_text, note_message, request_message
from services.errors import InputError, SlackChannelClosed, SlackGone
from services.requests.model import ApprovalRequest

log = logging.getLogger(__name__)


class SlackRequestPublisher:
    def __init__(self, api: SlackApi, *, site_url: str, sandbox: bool) -> None:
        self._api = api
        self._site_url = site_url
        self._sandbox = sandbox

    async def publish(self, request: ApprovalRequest) -> str:
        text, blocks = request_message(request, site_url=self._site_url, sandbox=self._sandbox)
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

    async def thread_note(self, request: ApprovalRequest, text: str) -> None:
        body, blocks = note_message(text, self._sandbox)
        await self._api.post_message(request.channel, body, blocks, thread_ts=request.message_ts)

    async def tell(self, user_id: str, request: ApprovalRequest, text: str) -> None:
        body, blocks = note_message(text, self._sandbox)
        # A user id as the channel posts in the app's DM with that person.
        await self._api.post_message(user_id, body, blocks)
