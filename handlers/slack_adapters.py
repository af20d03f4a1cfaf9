"""Slack implementations of the service ports `Directory` and `Notifier`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.common import section, with_sandbox_note
from services.errors import NotFound, UpstreamUnavailable

log = logging.getLogger(__name__)


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
