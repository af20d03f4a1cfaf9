"""`/approvals evidence <request-id>` and the Evidence (PDF) button: the report in your DM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from handlers.blocks.common import section
from handlers.blocks.requests import EVIDENCE_ACTION
from handlers.messages import (
    EVIDENCE_COMMENT,
    EVIDENCE_ONE_ID,
    EVIDENCE_SENT,
    EVIDENCE_USAGE,
    EVIDENCE_WORKING,
    REQUEST_BAD_ID,
    missing_argument,
)
from handlers.ports import ResponseUrl, SlackSurfaces
from handlers.slash import SlashCall, SubcommandRouter
from services.evidence import EvidenceReports, ReportFile
from services.requests.model import normalise_request_id

_MAX_VALUE = 40


@dataclass(frozen=True)
class EvidenceClick:
    """The Evidence (PDF) button on a request message, as our own type."""

    user_id: str
    request_text: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> EvidenceClick:
        actions = body.get("actions") or [{}]
        return cls(
            user_id=str((body.get("user") or {}).get("id", "")),
            request_text=str(actions[0].get("value") or "")[:_MAX_VALUE],
        )


def register(
    app: AsyncApp,
    router: SubcommandRouter,
    evidence: EvidenceReports,
    slack: SlackSurfaces,
) -> None:
    def blocks(text: str) -> list[dict[str, Any]]:
        return [section(text)]

    async def deliver(user: str, report: ReportFile) -> str:
        comment = EVIDENCE_COMMENT.format(
            report=report.report_id, id=report.request_id, pages=report.pages, sha256=report.sha256
        )
        await slack.send_file(user, report.filename, report.content, comment)
        return EVIDENCE_SENT.format(
            id=report.request_id,
            filename=report.filename,
            pages=report.pages,
            report=report.report_id,
        )

    async def command(call: SlashCall) -> None:
        if not call.args:
            await router.reply_help(call.ack, missing_argument(EVIDENCE_USAGE))
            return
        if len(call.args) > 1:
            await router.reply_help(call.ack, EVIDENCE_ONE_ID)
            return
        request_id = normalise_request_id(call.args[0][:_MAX_VALUE])
        if request_id is None:
            shown = call.args[0][:_MAX_VALUE].replace("`", "'")
            await router.reply_help(call.ack, REQUEST_BAD_ID.format(value=shown))
            return
        # The check comes before any word of a report on its way: someone refused is told
        # so, and only that (the refusal reaches them through the error handler).
        await call.ack()
        user = call.input.user_id
        permit = await evidence.permit(request_id, user)
        working = EVIDENCE_WORKING.format(id=request_id)
        await call.respond(text=working, blocks=blocks(working), replace_original=False)
        sent = await deliver(user, await evidence.generate(permit))
        await call.respond(text=sent, blocks=blocks(sent), replace_original=False)

    async def clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = EvidenceClick.from_body(body)
        report = await evidence.for_slack_user(click.request_text, click.user_id)
        sent = await deliver(click.user_id, report)
        respond = ResponseUrl(slack, body.get("response_url"))
        await respond(text=sent, blocks=blocks(sent), replace_original=False)

    router.add("evidence", command)
    app.action(EVIDENCE_ACTION)(clicked)
