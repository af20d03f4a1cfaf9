"""`/approvals enroll` and `lost`, the Enter code modal, the token's status section and its jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

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
    lost_message,
    notice_message,
    token_status_blocks,
)
from handlers.blocks.common import Block
from handlers.blocks.linking import connect_message
from handlers.blocks.phrases import utc
from handlers.blocks.refusals import refusal_text
from handlers.deps import HandlerDeps
from handlers.messages import (
    ACTIVATED_DM,
    ENROL_GONE,
    OWN_ONLY_NO_ARGUMENTS,
)
from handlers.ports import EnrolmentSender, ResponseUrl
from handlers.slash import SlashCall, SubcommandRouter
from handlers.status import StatusSection
from services.approval_token import ApprovalTokens, Enrolment
from services.audit.events import Actor
from services.errors import UserError

log = logging.getLogger(__name__)

LOST_REASON = "reported lost by its owner (/approvals lost)"
_MAX_ENROLMENT_ID = 64  # ours are 16 hex digits; anything longer was not sent by us

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


async def enrol_by_dm(
    tokens: ApprovalTokens, dms: EnrolmentSender, user: str, label: str
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
    tokens, linking = deps.tokens, deps.linking
    dms, slack = deps.enrolment_dms, deps.slack

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
            text, blocks = connect_first_message()
        else:
            # The label in the authenticator app is the Atlassian email; a link made
            # without REQUIRE_EMAIL_MATCH may have it hidden, and then the name must do.
            label = link.email or link.name
            enrolment = await enrol_by_dm(tokens, dms, user, label)
            if enrolment is not None:
                text, blocks = enrol_sent_message(enrolment.pending_until)
            else:
                text, blocks = notice_message(ENROL_GONE)
        await call.respond(text=text, blocks=blocks, replace_original=False)

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
            await dms.discard(revocation.qr, "revoked")
        text, blocks = lost_message()
        await call.respond(text=text, blocks=blocks, replace_original=False)

    router.add("enroll", enroll)
    router.add("lost", lost)

    @app.action(ENTER_CODE_ACTION)
    async def enter_code(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = EnterCodeClick.from_body(body)
        # The trigger dies 3 s after the click: open the modal before anything else.
        await slack.open_view(click.trigger_id, code_modal(click.enrolment_id))

    @app.view(CODE_MODAL)
    async def submit_code(ack: AsyncAck, body: dict[str, Any]) -> None:
        submission = CodeSubmission.from_body(body)
        # The code is checked before the ack: an inline error can only ride on the ack itself.
        # It is one store read and one atomic script, well inside Slack's 3 s.
        try:
            activation = await tokens.activate(
                submission.user_id, submission.code, submission.enrolment_id
            )
        except UserError as exc:
            await ack(response_action="errors", errors={CODE_BLOCK: refusal_text(exc)})
            return
        await ack(response_action="update", view=activated_view(activation.expires_at))
        if activation.qr is not None:
            await dms.discard(activation.qr, "activated")
        await dms.tell(submission.user_id, ACTIVATED_DM.format(until=utc(activation.expires_at)))

    @app.action(CONNECT_FIRST_ACTION)
    async def connect_first(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = ButtonClick.from_body(body)
        # The same connect flow as /approvals connect: a state bound to whoever pressed.
        start = await linking.start(click.team_id, click.user_id)
        text, blocks = connect_message(start)
        respond = ResponseUrl(slack, body.get("response_url"))
        await respond(text=text, blocks=blocks, replace_original=True)


def token_status_section(tokens: ApprovalTokens) -> StatusSection:
    """The Approval Token's part of `/approvals status`."""

    async def section(user_id: str, team_id: str) -> list[Block]:
        return token_status_blocks(await tokens.status(user_id))

    return section
