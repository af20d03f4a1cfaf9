"""Notices to people and to SECURITY_CHANNEL: `Notifier`, `SecurityAlerts`, `LinkNotices` and the
admin's token notices (SlackApi adds the "sandbox" note in sandbox mode)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime

from bot.slack.api import SlackApi
from bot.slack.failures import log_reason
from handlers.blocks.admin import utc
from handlers.blocks.approval_token import minute_up
from handlers.blocks.common import section
from handlers.blocks.linking import account_label
from handlers.messages import (
    ADMIN_EXTENDED_DM,
    ADMIN_RESET_DM,
    ADMIN_UNLOCKED_DM,
    BROKEN_DM,
    LINKED_DM,
    LINKED_DM_MISSING,
    LOCKED_ALERT,
    LOCKED_DM,
    LOST_ALERT,
)
from services.approval_token import QrMessage
from services.audit.events import Actor
from services.errors import SlackGone, UpstreamError
from services.linking.models import LinkStatus
from services.ports import Notifier

log = logging.getLogger(__name__)


class SlackNotifier:
    """`Notifier`: DMs and security alerts."""

    def __init__(self, api: SlackApi, security_channel: str | None) -> None:
        self._api = api
        self._security_channel = security_channel

    async def dm(self, user_id: str, text: str) -> None:
        blocks = [section(text)]
        await self._api.post_message(user_id, text, blocks)

    async def security_alert(self, text: str) -> None:
        if not self._security_channel:
            log.warning("security alert (no SECURITY_CHANNEL set)", extra={"alert": text})
            return
        blocks = [section(f":rotating_light: {text}")]
        await self._api.post_message(self._security_channel, text, blocks)


async def delivered(what: str, sending: Awaitable[object], **about: str) -> bool:
    """Await a notice about a change that has already happened: a Slack failure is logged at
    ERROR (with `about`), never raised, so the change is still confirmed where the person is."""
    try:
        await sending
    except UpstreamError as exc:
        log.error(f"{what} not delivered", extra={**about, "slack_error": log_reason(exc)})
        return False
    return True


class SlackSecurityAlerts:
    """`SecurityAlerts`: the person by DM and SECURITY_CHANNEL at once (21 CFR 11.300(d))."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def user_locked(self, user: str, until: datetime) -> None:
        shown = minute_up(until)
        await asyncio.gather(
            delivered(
                "security alert",
                self._notifier.dm(user, LOCKED_DM.format(until=shown)),
                to="dm",
                user=user,
            ),
            delivered(
                "security alert",
                self._notifier.security_alert(LOCKED_ALERT.format(user=user, until=shown)),
                to="security_channel",
                user=user,
            ),
        )

    async def token_lost(self, user: str, previous_state: str) -> None:
        text = LOST_ALERT.format(user=user, previous=previous_state)
        await delivered(
            "security alert",
            self._notifier.security_alert(text),
            to="security_channel",
            user=user,
        )


class SlackLinkNotices:
    """`LinkNotices` as DMs; a DM that fails is an UpstreamError (the link stays as it is)."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def linked(self, user_id: str, link: LinkStatus) -> None:
        text = LINKED_DM.format(account=account_label(link), site=link.site_url)
        if link.missing_scopes:
            missing = ", ".join(f"`{scope}`" for scope in link.missing_scopes)
            text += " " + LINKED_DM_MISSING.format(missing=missing)
        await self._notifier.dm(user_id, text)

    async def broken(self, user_id: str, link: LinkStatus) -> None:
        await self._notifier.dm(user_id, BROKEN_DM.format(site=link.site_url))


class SlackTokenAdminNotices:
    """DMs a person when an admin changed their Approval Token; never fails the change (it is
    made and audited already)."""

    def __init__(self, api: SlackApi, notifier: Notifier) -> None:
        self._api = api
        self._notifier = notifier

    async def extended(self, user: str, expires_at: datetime, by: Actor) -> None:
        await self._dm(user, ADMIN_EXTENDED_DM.format(admin=_who(by), expires=utc(expires_at)))

    async def reset(self, user: str, by: Actor, qr: QrMessage | None) -> None:
        if qr is not None:
            # The enrolment DM of a pending token: its QR is useless now, and must not linger.
            await delivered(
                "admin notice", _unless_gone(self._api.delete_message(qr.channel, qr.ts))
            )
            if qr.file_id:
                await delivered("admin notice", _unless_gone(self._api.delete_file(qr.file_id)))
        await self._dm(user, ADMIN_RESET_DM.format(admin=_who(by)))

    async def unlocked(self, user: str, by: Actor) -> None:
        await self._dm(user, ADMIN_UNLOCKED_DM.format(admin=_who(by)))

    async def _dm(self, user: str, text: str) -> None:
        await delivered("admin notice", self._notifier.dm(user, text), user=user)


async def _unless_gone(call: Awaitable[object]) -> None:
    """Deleting what is already gone is done."""
    try:
        await call
    except SlackGone:
        pass


def _who(actor: Actor) -> str:
    return f"<@{actor.slack_id}>"
