"""`/approvals enroll` and `lost`, the Enter code modal, the token's status section and its jobs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.approval_token import (
    CODE_BLOCK,
    CODE_INPUT,
    CODE_MODAL,
    CONNECT_FIRST_ACTION,
    ENTER_CODE_ACTION,
    activated_view,
    code_modal,
    connect_first_message,
    enrol_sent_message,
    enrolment_dm,
    expiry_reminder_text,
    lost_message,
    notice_message,
    token_status_blocks,
)
from handlers.blocks.common import Block
from handlers.blocks.linking import connect_message, utc
from handlers.deps import HandlerDeps
from handlers.messages import (
    ACTIVATED_DM,
    ENROL_GONE,
    ENROLMENT_EXPIRED_DM,
    OWN_ONLY_NO_ARGUMENTS,
    QR_ALT_TEXT,
    QR_FILE_TITLE,
)
from handlers.slack_adapters import SLACK_FAILURES, SlackNotifier, slack_failure
from handlers.slash import SlashCall, SubcommandRouter
from handlers.status import StatusSection
from services.approval_token import ApprovalTokens, Enrolment, QrMessage
from services.audit.events import Actor
from services.errors import UpstreamUnavailable, UserError

log = logging.getLogger(__name__)

QR_FILENAME = "approval-token-qr.png"
LOST_REASON = "reported lost by its owner (/approvals lost)"
# Slack's answers for a file or message that is already gone: deleting it again is done.
_ALREADY_GONE = frozenset({"file_not_found", "file_deleted", "message_not_found"})
_MAX_ENROLMENT_ID = 64  # ours are 16 hex digits; anything longer was not sent by us

# slack_sdk logs every request and response body at DEBUG unless its logger's own level is
# above DEBUG. The enrolment DM carries the setup key, so it is sent through a client whose
# logger is pinned at INFO: the key never reaches a log line, whatever LOG_LEVEL says.
_SECRET_CALLS = logging.getLogger("handlers.approval_token.secret_calls")
_SECRET_CALLS.setLevel(logging.INFO)


def without_body_logging(client: AsyncWebClient) -> AsyncWebClient:
    """The same client (token, URL, session, retries) with a logger that never logs bodies."""
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        session=client.session,
        headers=client.headers,
        logger=_SECRET_CALLS,
        retry_handlers=client.retry_handlers,
    )


# --- payloads as our own types ------------------------------------------------------------


def _user_id(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


@dataclass(frozen=True)
class EnterCodeClick:
    """The Enter code button in the enrolment DM."""

    user_id: str
    trigger_id: str
    enrolment_id: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> EnterCodeClick:
        action: dict[str, Any] = next(
            (a for a in body.get("actions") or [] if a.get("action_id") == ENTER_CODE_ACTION), {}
        )
        return cls(
            user_id=_user_id(body),
            trigger_id=str(body.get("trigger_id", "")),
            enrolment_id=str(action.get("value", ""))[:_MAX_ENROLMENT_ID],
        )


@dataclass(frozen=True)
class CodeSubmission:
    """The code modal submitted: who, which enrolment, and what they typed (never printed)."""

    user_id: str
    enrolment_id: str
    code: object = field(repr=False)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> CodeSubmission:
        view = body.get("view") or {}
        values = (view.get("state") or {}).get("values") or {}
        # An empty input arrives as None; the service calls that a format error, as it should.
        code = ((values.get(CODE_BLOCK) or {}).get(CODE_INPUT) or {}).get("value")
        return cls(
            user_id=_user_id(body),
            enrolment_id=str(view.get("private_metadata", ""))[:_MAX_ENROLMENT_ID],
            code=code,
        )


@dataclass(frozen=True)
class ButtonClick:
    """A plain button press: who pressed it, in which team."""

    user_id: str
    team_id: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ButtonClick:
        team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        return cls(user_id=_user_id(body), team_id=str(team or ""))


# --- Slack side effects -------------------------------------------------------------------


async def _unless_gone(call: Awaitable[Any]) -> None:
    try:
        await call
    except SlackApiError as exc:
        if exc.response.get("error") not in _ALREADY_GONE:
            raise


class EnrolmentDms:
    """The enrolment DM (QR image, setup key, Enter code button), its deletion, and token DMs."""

    def __init__(self, client: AsyncWebClient, sandbox: bool) -> None:
        self._client = client
        self._sandbox = sandbox
        self._notifier = SlackNotifier(client, None, sandbox)

    async def send(self, enrolment: Enrolment, label: str) -> QrMessage:
        """The QR image, then the setup key and the button below it; where they went."""
        client = without_body_logging(self._client)
        opened = await client.conversations_open(users=enrolment.user)
        channel = str(opened["channel"]["id"])
        uploaded = await client.files_upload_v2(
            channel=channel,
            content=enrolment.qr_png,
            filename=QR_FILENAME,
            title=QR_FILE_TITLE,
            alt_txt=QR_ALT_TEXT,
        )
        file_id = str(uploaded["file"]["id"])
        text, blocks = enrolment_dm(enrolment, label, self._sandbox)
        try:
            posted = await client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except Exception:
            # The QR is in the DM with nothing to remember it by: take it down, then fail.
            await _unless_gone(self._client.files_delete(file=file_id))
            raise
        return QrMessage(channel=channel, ts=str(posted["ts"]), file_id=file_id)

    async def delete(self, qr: QrMessage) -> None:
        """Delete the QR file and the message with the setup key (both tried, gone is fine)."""
        try:
            if qr.file_id:
                await _unless_gone(self._client.files_delete(file=qr.file_id))
        finally:
            await _unless_gone(self._client.chat_delete(channel=qr.channel, ts=qr.ts))

    async def discard(self, qr: QrMessage, why: str) -> bool:
        """`delete`, logging a Slack failure at ERROR with where the DM is instead of raising;
        True when both are gone. For after a change that has happened (activation, expiry,
        revocation, re-enrolment) and must still be confirmed; an admin can remove the DM."""
        try:
            await self.delete(qr)
        except SLACK_FAILURES as exc:
            log.error(
                "enrolment DM not deleted",
                extra={
                    "why": why,
                    "channel": qr.channel,
                    "ts": qr.ts,
                    "file": qr.file_id,
                    "slack_error": slack_failure(exc),
                },
            )
            return False
        return True

    async def tell(self, user_id: str, text: str) -> None:
        await self._notifier.dm(user_id, text)


async def enrol_by_dm(
    tokens: ApprovalTokens, dms: EnrolmentDms, user: str, label: str
) -> Enrolment | None:
    """Start an enrolment and send its DM (the replaced one's DM goes at once); the enrolment,
    or None if it was replaced or expired before its DM could be recorded (its DM is gone too).

    Raises what start_enrolment raises (TokenLocked ...) and what Slack raises sending."""
    enrolment = await tokens.start_enrolment(user, label)
    if enrolment.replaced_qr is not None:
        await dms.discard(enrolment.replaced_qr, "replaced")
    qr = await dms.send(enrolment, label)
    if await tokens.record_qr_message(user, enrolment.enrolment_id, qr):
        return enrolment
    # Nobody would delete it later.
    await dms.discard(qr, "enrolment gone before it was recorded")
    return None


# --- listeners ----------------------------------------------------------------------------


def register(app: AsyncApp, router: SubcommandRouter, deps: HandlerDeps) -> None:
    tokens, linking, sandbox = deps.tokens, deps.linking, deps.sandbox

    async def enroll(call: SlashCall) -> None:
        if call.args:
            await call.ack(
                text=OWN_ONLY_NO_ARGUMENTS.format(name="enroll"), response_type="ephemeral"
            )
            return
        await call.ack()
        user = call.input.user_id
        link = await linking.status(user)
        if link is None:
            text, blocks = connect_first_message(sandbox)
        else:
            # The label in the authenticator app is the Atlassian email (issue 5); a link made
            # without REQUIRE_EMAIL_MATCH may have it hidden, and then the name must do.
            label = link.email or link.name
            dms = EnrolmentDms(call.client, sandbox)
            enrolment = await enrol_by_dm(tokens, dms, user, label)
            if enrolment is not None:
                text, blocks = enrol_sent_message(enrolment.pending_until, sandbox)
            else:
                text, blocks = notice_message(ENROL_GONE, sandbox)
        await call.respond(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=False
        )

    async def lost(call: SlashCall) -> None:
        if call.args:
            await call.ack(
                text=OWN_ONLY_NO_ARGUMENTS.format(name="lost"), response_type="ephemeral"
            )
            return
        await call.ack()
        user = call.input.user_id
        link = await linking.status(user)
        actor = Actor(user, link.account_id, link.name) if link else Actor(user)
        revocation = await tokens.revoke(user, actor, LOST_REASON)
        await deps.token_alerts.token_lost(user, revocation.previous_state.value)
        if revocation.qr is not None:
            await EnrolmentDms(call.client, sandbox).discard(revocation.qr, "revoked")
        text, blocks = lost_message(sandbox)
        await call.respond(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=False
        )

    router.add("enroll", enroll)
    router.add("lost", lost)

    @app.action(ENTER_CODE_ACTION)
    async def enter_code(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = EnterCodeClick.from_body(body)
        # The trigger dies 3 s after the click: open the modal before anything else.
        await client.views_open(
            trigger_id=click.trigger_id, view=code_modal(click.enrolment_id, sandbox)
        )

    @app.view(CODE_MODAL)
    async def submit_code(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        submission = CodeSubmission.from_body(body)
        # The code is checked before the ack: an inline error can only ride on the ack itself.
        # It is one store read and one atomic script, well inside Slack's 3 s.
        try:
            activation = await tokens.activate(
                submission.user_id, submission.code, submission.enrolment_id
            )
        except UserError as exc:
            await ack(response_action="errors", errors={CODE_BLOCK: str(exc)})
            return
        await ack(response_action="update", view=activated_view(activation.expires_at, sandbox))
        dms = EnrolmentDms(client, sandbox)
        if activation.qr is not None:
            await dms.discard(activation.qr, "activated")
        await dms.tell(submission.user_id, ACTIVATED_DM.format(until=utc(activation.expires_at)))

    @app.action(CONNECT_FIRST_ACTION)
    async def connect_first(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        click = ButtonClick.from_body(body)
        # The same connect flow as /approvals connect: a state bound to whoever pressed.
        start = await linking.start(click.team_id, click.user_id)
        text, blocks = connect_message(start, sandbox)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=True)


def token_status_section(tokens: ApprovalTokens) -> StatusSection:
    """The Approval Token's part of `/approvals status`."""

    async def section(user_id: str, team_id: str) -> list[Block]:
        return token_status_blocks(await tokens.status(user_id))

    return section


# --- jobs (registered on the runner by bot/wiring.py) -------------------------------------


class ApprovalTokenJobs:
    """Expired enrolments and expiry reminders; each item is handed to one run of one process."""

    def __init__(self, tokens: ApprovalTokens, dms: EnrolmentDms) -> None:
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
            except SLACK_FAILURES as exc:
                failed += 1
                log.error(
                    "enrolment expiry DM not sent",
                    extra={"user": expired.user, "slack_error": slack_failure(exc)},
                )
        if failed:
            raise UpstreamUnavailable(f"Slack refused {failed} expired-enrolment clean-ups")

    async def remind_expiring(self) -> None:
        """DM each person whose token expires within 7 days, then within 1 day (once each)."""
        failed = 0
        for reminder in await self._tokens.due_expiry_reminders():
            try:
                await self._dms.tell(reminder.user, expiry_reminder_text(reminder))
            except SLACK_FAILURES as exc:
                failed += 1
                log.error(
                    "expiry reminder not sent",
                    extra={
                        "user": reminder.user,
                        "days_before": reminder.days_before,
                        "slack_error": slack_failure(exc),
                    },
                )
        if failed:
            raise UpstreamUnavailable(f"Slack refused {failed} Approval Token expiry reminders")
