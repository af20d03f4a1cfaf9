"""The Approval Token's jobs: expired enrolments and expiry reminders (registered by wiring)."""

from __future__ import annotations

import logging

from bot.slack.failures import log_reason
from handlers.blocks.approval_token import expiry_reminder_text
from handlers.messages import ENROLMENT_EXPIRED_DM
from handlers.ports import EnrolmentSender
from services.approval_token import ApprovalTokens
from services.errors import UpstreamError, UpstreamUnavailable

log = logging.getLogger(__name__)


class ApprovalTokenJobs:
    """Each item is handed to one run of one process."""

    def __init__(self, tokens: ApprovalTokens, dms: EnrolmentSender) -> None:
        self._tokens = tokens
        self._dms = dms

    async def expire_enrolments(self) -> None:
        """Unconfirmed enrolments past 10 minutes: delete their QR DM and tell the person."""
        failed = 0
        # This run alone holds each item: a Slack failure is logged, and the rest still get done.
        for expired in await self._tokens.expire_pending():
            if expired.qr is not None and not await self._dms.discard(expired.qr, "expired"):
                failed += 1
            try:
                await self._dms.tell(expired.user, ENROLMENT_EXPIRED_DM)
            except UpstreamError as exc:
                failed += 1
                log.error(
                    "enrolment expiry DM not sent",
                    extra={"user": expired.user, "slack_error": log_reason(exc)},
                )
        if failed:
            raise UpstreamUnavailable(f"Slack refused {failed} expired-enrolment clean-ups")

    async def remind_expiring(self) -> None:
        """DM each person whose token expires within 7 days, then within 1 day (once each)."""
        failed = 0
        for reminder in await self._tokens.due_expiry_reminders():
            try:
                await self._dms.tell(reminder.user, expiry_reminder_text(reminder))
            except UpstreamError as exc:
                failed += 1
                log.error(
                    "expiry reminder not sent",
                    extra={
                        "user": reminder.user,
                        "days_before": reminder.days_before,
                        "slack_error": log_reason(exc),
                    },
                )
        if failed:
            raise UpstreamUnavailable(f"Slack refused {failed} Approval Token expiry reminders")
