"""Slack implementations of the admin ports: member names (users.list) and the users' DMs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.admin import utc
from handlers.messages import ADMIN_EXTENDED_DM, ADMIN_RESET_DM, ADMIN_UNLOCKED_DM
from services.approval_token import QrMessage
from services.audit.events import Actor
from services.errors import UpstreamUnavailable
from services.ports import Notifier

log = logging.getLogger(__name__)

# Slack suggests pages of at most 200; users.list is Tier 2, so few, large pages.
USERS_PAGE = 200
MAX_USER_PAGES = 500  # a guard against a cursor that never ends


class SlackMemberNames:
    """users.list, paged: one call per 200 members instead of one users.info per person."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        cursor: str | None = None
        for _ in range(MAX_USER_PAGES):
            try:
                response = await self._client.users_list(limit=USERS_PAGE, cursor=cursor)
            except SlackApiError as exc:
                error = exc.response.get("error")
                raise UpstreamUnavailable(f"Slack users.list failed: {error}") from None
            for member in response.get("members") or []:
                profile = member.get("profile") or {}
                name = profile.get("real_name") or member.get("real_name") or member.get("name")
                names[str(member.get("id"))] = str(name or member.get("id"))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return names


class SlackTokenAdminNotices:
    """DMs a person when an admin changed their Approval Token; never fails the change."""

    def __init__(self, client: AsyncWebClient, notifier: Notifier) -> None:
        self._client = client
        self._notifier = notifier

    async def extended(self, user: str, expires_at: datetime, by: Actor) -> None:
        await self._dm(user, ADMIN_EXTENDED_DM.format(admin=_who(by), expires=utc(expires_at)))

    async def reset(self, user: str, by: Actor, qr: QrMessage | None) -> None:
        if qr is not None:
            # The enrolment DM of a pending token: its QR is useless now, and must not linger.
            deleting = self._client.chat_delete(channel=qr.channel, ts=qr.ts)
            await self._quietly("chat.delete", deleting)
            if qr.file_id:
                await self._quietly("files.delete", self._client.files_delete(file=qr.file_id))
        await self._dm(user, ADMIN_RESET_DM.format(admin=_who(by)))

    async def unlocked(self, user: str, by: Actor) -> None:
        await self._dm(user, ADMIN_UNLOCKED_DM.format(admin=_who(by)))

    async def _dm(self, user: str, text: str) -> None:
        await self._quietly("chat.postMessage", self._notifier.dm(user, text))

    async def _quietly(self, what: str, call: Awaitable[Any]) -> None:
        # The admin's change is made and audited; a DM that fails is logged, not raised.
        try:
            await call
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc)
            log.warning("admin notice not delivered", extra={"call": what, "error": str(error)})


def _who(actor: Actor) -> str:
    return f"<@{actor.slack_id}>"
