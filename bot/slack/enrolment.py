"""`EnrolmentSender`: the enrolment DM (QR image, setup key, Enter code button), its deletion,
and token DMs. The DM carries the setup key: its QR goes through the quiet client and its
message through JsonCalls, neither of which logs a body, whatever LOG_LEVEL says."""

from __future__ import annotations

import logging

from bot.slack.api import SlackApi
from bot.slack.failures import log_reason
from bot.slack.notices import SlackNotifier
from handlers.blocks.approval_token import enrolment_dm
from handlers.messages import QR_ALT_TEXT, QR_FILE_TITLE
from services.approval_token import Enrolment, QrMessage
from services.errors import SlackGone, UpstreamError

log = logging.getLogger(__name__)

QR_FILENAME = "approval-token-qr.png"


class SlackEnrolmentDms:
    def __init__(self, api: SlackApi, notifier: SlackNotifier) -> None:
        self._api = api
        self._notifier = notifier

    async def send(self, enrolment: Enrolment, label: str) -> QrMessage:
        """The QR image, then the setup key and the button below it; where they went."""
        channel = await self._api.open_dm(enrolment.user)
        file_id = await self._api.upload_file(
            channel,
            enrolment.qr_png,
            filename=QR_FILENAME,
            title=QR_FILE_TITLE,
            alt_txt=QR_ALT_TEXT,
            quiet=True,
        )
        text, blocks = enrolment_dm(enrolment, label)
        try:
            ts = await self._api.post_message(channel, text, blocks)
        except Exception:
            # The QR is in the DM with nothing to remember it by: take it down, then fail.
            await self._unless_gone_file(file_id)
            raise
        return QrMessage(channel=channel, ts=ts, file_id=file_id)

    async def delete(self, qr: QrMessage) -> None:
        """Delete the QR file and the message with the setup key (both tried, gone is fine)."""
        try:
            if qr.file_id:
                await self._unless_gone_file(qr.file_id)
        finally:
            try:
                await self._api.delete_message(qr.channel, qr.ts)
            except SlackGone:
                pass

    async def discard(self, qr: QrMessage, why: str) -> bool:
        """`delete`, logging a Slack failure at ERROR with where the DM is instead of raising;
        True when both are gone. For after a change that has happened (activation, expiry,
        revocation, re-enrolment) and must still be confirmed; an admin can remove the DM."""
        try:
            await self.delete(qr)
        except UpstreamError as exc:
            log.error(
                "enrolment DM not deleted",
                extra={
                    "why": why,
                    "channel": qr.channel,
                    "ts": qr.ts,
                    "file": qr.file_id,
                    "slack_error": log_reason(exc),
                },
            )
            return False
        return True

    async def tell(self, user_id: str, text: str) -> None:
        await self._notifier.dm(user_id, text)

    async def _unless_gone_file(self, file_id: str) -> None:
        try:
            await self._api.delete_file(file_id)
        except SlackGone:
            pass
