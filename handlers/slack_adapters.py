"""Slack implementations of the service ports `Directory`, `Notifier` and `SecurityAlerts`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.approval_token import minute_up
from handlers.blocks.common import section, with_sandbox_note
from handlers.messages import LOCKED_ALERT, LOCKED_DM, LOST_ALERT
from services.errors import NotFound, UpstreamUnavailable
from services.ports import Notifier

log = logging.getLogger(__name__)

# How a Slack Web API call fails: an error answer, a broken connection, or no answer in time.
SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)


def slack_failure(exc: BaseException) -> str:
    """A short reason for the log: Slack's error code, else the exception's type."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


@dataclass(frozen=True)
class SlackProfile:
    user_id: str
    name: str
    email: str | None
    is_admin: bool


class SlackDirectory:
    """users.info, mapped to our own type."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def user(self, user_id: str) -> SlackProfile:
        try:
            response = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                raise NotFound(f"Slack does not know the user {user_id}.") from None
            raise UpstreamUnavailable(
                f"Slack users.info failed: {exc.response.get('error')}"
            ) from None
        user = response["user"]
        profile = user.get("profile") or {}
        return SlackProfile(
            user_id=user_id,
            name=profile.get("real_name") or user.get("real_name") or user.get("name") or user_id,
            # Email needs users:read.email; bots and some guests have none.
            email=(profile.get("email") or None),
            is_admin=bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            ),
        )


class SlackNotifier:
    """DMs and security alerts; every message says "sandbox" in sandbox mode."""

    def __init__(self, client: AsyncWebClient, security_channel: str | None, sandbox: bool) -> None:
        self._client = client
        self._security_channel = security_channel
        self._sandbox = sandbox

    async def dm(self, user_id: str, text: str) -> None:
        await self._client.chat_postMessage(
            channel=user_id, text=text, blocks=with_sandbox_note([section(text)], self._sandbox)
        )

    async def security_alert(self, text: str) -> None:
        if not self._security_channel:
            log.warning("security alert (no SECURITY_CHANNEL set)", extra={"alert": text})
            return
        await self._client.chat_postMessage(
            channel=self._security_channel,
            text=text,
            blocks=with_sandbox_note([section(f":rotating_light: {text}")], self._sandbox),
        )


class SlackSecurityAlerts:
    """`SecurityAlerts`: the person by DM and SECURITY_CHANNEL at once (21 CFR 11.300(d)).

    A delivery that fails is logged at ERROR, never raised: the lock or revocation has already
    happened, and the person must still be told so where they are (the modal, the command)."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def user_locked(self, user: str, until: datetime) -> None:
        shown = minute_up(until)
        await asyncio.gather(
            self._deliver("dm", user, self._notifier.dm(user, LOCKED_DM.format(until=shown))),
            self._deliver(
                "security_channel",
                user,
                self._notifier.security_alert(LOCKED_ALERT.format(user=user, until=shown)),
            ),
        )

    async def token_lost(self, user: str, previous_state: str) -> None:
        text = LOST_ALERT.format(user=user, previous=previous_state)
        await self._deliver("security_channel", user, self._notifier.security_alert(text))

    async def _deliver(self, where: str, user: str, sending: Awaitable[None]) -> None:
        try:
            await sending
        except SLACK_FAILURES as exc:
            log.error(
                "security alert not delivered",
                extra={"to": where, "user": user, "slack_error": slack_failure(exc)},
            )
