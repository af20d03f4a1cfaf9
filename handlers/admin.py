"""`/approvals tokens` and `/approvals audit` (admins): the token modal, its actions, exports.

Every command, button and form here asks `AdminAccess.require` on the server before it reads or
changes anything: a button in an admin's modal is not authority, since anyone can post a forged
payload. The services take the `Admin` it returns, so no admin path can skip the check.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from handlers.blocks.admin import (
    CONFIRM_CALLBACK,
    DAYS_ACTION,
    DAYS_BLOCK,
    FILTER_ACTION,
    MENU_FILTERS,
    NEXT_ACTION,
    PREVIOUS_ACTION,
    REASON_ACTION,
    REASON_BLOCK,
    ROW_ACTION,
    ConfirmState,
    ListingState,
    audit_message,
    confirm_view,
    listing_view,
    loading_view,
    outcome_view,
    parse_row_action,
    summary_line,
    utc,
    verification_line,
    working_view,
)
from handlers.blocks.common import section
from handlers.blocks.refusals import refusal_text
from handlers.messages import (
    ADMIN_BAD_FORM,
    ADMIN_DAYS_HINT,
    ADMIN_DONE,
    AUDIT_BAD_DATE,
    AUDIT_BAD_FORMAT,
    AUDIT_BAD_WORD,
    AUDIT_EXPORT_COMMENT,
    AUDIT_EXPORT_SENT,
    AUDIT_FORMAT_ONLY_EXPORT,
    AUDIT_NEEDS_VALUE,
    AUDIT_REPEATED,
    TOKENS_BAD_FILTER,
    TOKENS_EXPORT_COMMENT,
    TOKENS_EXPORT_SENT,
    TOKENS_PLAIN_AT,
    TOKENS_TOO_MANY,
)
from handlers.ports import SlackSurfaces
from handlers.slash import SlashCall, SubcommandRouter
from services.admin import (
    MAX_EXTEND_DAYS,
    Admin,
    AdminServices,
    ExportFormat,
    Filter,
    Selection,
    TokenAction,
)
from services.admin.actions import MAX_REASON
from services.errors import InputError, UserError

log = logging.getLogger(__name__)

# `<@U123|name>` (or `<@U123>`): how Slack escapes a mention in command text.
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^>]{0,100})?>")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- command text -> our own types --------------------------------------------------------


@dataclass(frozen=True)
class TokensCommand:
    export: bool = False
    selection: Selection = field(default_factory=Selection)


@dataclass(frozen=True)
class AuditCommand:
    export: bool = False
    since: date | None = None
    format: ExportFormat = ExportFormat.CSV


def parse_tokens_args(args: list[str]) -> TokensCommand:
    """`[active|expiring|expired|pending|locked|unlinked|@user|export]`; InputError says why not."""
    if not args:
        return TokensCommand()
    joined = " ".join(args)
    mention = _MENTION.fullmatch(joined)  # a display name may hold spaces the split cut
    if mention:
        return TokensCommand(selection=Selection.of_user(mention.group(1)))
    if len(args) > 1:
        raise InputError(TOKENS_TOO_MANY.format(words=joined[:200]))
    word = args[0]
    if word.lower() == "export":
        return TokensCommand(export=True)
    if word.startswith("@"):
        raise InputError(TOKENS_PLAIN_AT.format(word=word[:80]))
    try:
        kind = Filter(word.lower())
    except ValueError:
        kind = Filter.USER  # not a filter word either way
    if kind is Filter.USER:
        choices = ", ".join(f"`{k.value}`" for k in MENU_FILTERS if k is not Filter.ALL)
        raise InputError(TOKENS_BAD_FILTER.format(word=word[:80], choices=choices))
    return TokensCommand(selection=Selection(kind))


def parse_audit_args(args: list[str]) -> AuditCommand:
    """`[export] [--since YYYY-MM-DD] [--format csv|jsonl]` (also `--since=...`)."""
    export = False
    since: date | None = None
    fmt: ExportFormat | None = None
    words = iter(args)
    for word in words:
        flag, equals, inline = word.partition("=")
        flag = flag.lower()
        if flag in ("--since", "--format"):
            value = inline if equals else next(words, "")
            if not value:
                example = "YYYY-MM-DD" if flag == "--since" else "csv"
                raise InputError(AUDIT_NEEDS_VALUE.format(flag=flag, example=example))
            if (since if flag == "--since" else fmt) is not None:
                raise InputError(AUDIT_REPEATED.format(word=flag))
            if flag == "--since":
                since = _date(value)
            else:
                fmt = _format(value)
        elif word.lower() == "export":
            if export:
                raise InputError(AUDIT_REPEATED.format(word="export"))
            export = True
        else:
            raise InputError(AUDIT_BAD_WORD.format(word=word[:80]))
    if fmt is not None and not export:
        raise InputError(AUDIT_FORMAT_ONLY_EXPORT)
    return AuditCommand(export=export, since=since, format=fmt or ExportFormat.CSV)


def _date(value: str) -> date:
    # Only YYYY-MM-DD: fromisoformat alone would also take 20260131 or 2026-W05-1.
    try:
        if not _ISO_DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(AUDIT_BAD_DATE.format(value=value[:40])) from None


def _format(value: str) -> ExportFormat:
    try:
        return ExportFormat(value.lower())
    except ValueError:
        raise InputError(AUDIT_BAD_FORMAT.format(value=value[:40])) from None


# --- interaction payloads -> our own types ------------------------------------------------


@dataclass(frozen=True)
class ModalAction:
    """A click inside the token modal."""

    user_id: str
    trigger_id: str
    view_id: str
    view_hash: str
    metadata: str
    value: str

    @classmethod
    def from_body(cls, body: dict[str, Any], action: dict[str, Any]) -> ModalAction:
        view = body.get("view") or {}
        selected = action.get("selected_option") or {}
        return cls(
            user_id=str((body.get("user") or {}).get("id", "")),
            trigger_id=str(body.get("trigger_id", "")),
            view_id=str(view.get("id", "")),
            view_hash=str(view.get("hash", "")),
            metadata=str(view.get("private_metadata", ""))[:3000],
            value=str(action.get("value") or selected.get("value") or "")[:200],
        )


@dataclass(frozen=True)
class ConfirmSubmission:
    """A confirmation form sent back; `state` is None when its metadata is unreadable."""

    user_id: str
    view_id: str
    state: ConfirmState | None
    days: str | None
    reason: str

    @classmethod
    def from_body(cls, body: dict[str, Any], view: dict[str, Any]) -> ConfirmSubmission:
        values = (view.get("state") or {}).get("values") or {}

        def typed(block: str, action: str) -> str | None:
            value = ((values.get(block) or {}).get(action) or {}).get("value")
            return None if value is None else str(value)

        return cls(
            user_id=str((body.get("user") or {}).get("id", "")),
            view_id=str(view.get("id", "")),
            state=ConfirmState.decode(str(view.get("private_metadata", ""))[:3000]),
            days=typed(DAYS_BLOCK, DAYS_ACTION),
            reason=(typed(REASON_BLOCK, REASON_ACTION) or "")[: MAX_REASON * 4],
        )


def _target(user: str) -> str:
    return f"approval-token:{user}"


# --- listeners ----------------------------------------------------------------------------


def register(
    app: AsyncApp,
    router: SubcommandRouter,
    admin: AdminServices,
    slack: SlackSurfaces,
) -> None:
    access, inventory, actions, review = admin.access, admin.inventory, admin.actions, admin.audit

    async def reply(call: SlashCall, text: str) -> None:
        blocks = [section(text)]
        await call.respond(text=text, blocks=blocks, replace_original=False)

    async def help_for(call: SlashCall, problem: str) -> None:
        await router.reply_help(call.ack, problem)

    async def tokens(call: SlashCall) -> None:
        try:
            command = parse_tokens_args(call.args)
        except InputError as exc:
            await help_for(call, refusal_text(exc))
            return
        await call.ack()
        user = call.input.user_id
        if command.export:
            who = await access.require(user, "tokens.export")
            export = await inventory.export(who)
            when = utc(export.taken_at)
            note = TOKENS_EXPORT_COMMENT.format(when=when, summary=summary_line(export.summary))
            await slack.send_file(user, export.filename, export.content, note)
            await reply(call, TOKENS_EXPORT_SENT.format(rows=export.rows, filename=export.filename))
            return
        who = await access.require(user, "tokens.list")
        # Open at once: the trigger_id dies 3 s after the click, whatever we still have to read.
        opened = await slack.open_view(call.input.trigger_id, loading_view())
        roster = await inventory.roster(who)
        view = listing_view(roster, ListingState(command.selection))
        await slack.update_view(opened.view_id, view, opened.view_hash)

    async def audit(call: SlashCall) -> None:
        try:
            command = parse_audit_args(call.args)
        except InputError as exc:
            await help_for(call, refusal_text(exc))
            return
        await call.ack()
        user = call.input.user_id
        if command.export:
            who = await access.require(user, "audit.export")
            export = await review.export(who, command.since, command.format)
            since = f" since {command.since.isoformat()}" if command.since else ""
            check = verification_line(export.verification.ok, export.verification.describe())
            note = AUDIT_EXPORT_COMMENT.format(since=since, entries=export.entries, check=check)
            await slack.send_file(user, export.filename, export.content, note)
            sent = AUDIT_EXPORT_SENT.format(
                entries=export.entries, since=since, filename=export.filename
            )
            await reply(call, sent)
            return
        who = await access.require(user, "audit.view")
        text, blocks = audit_message(await review.overview(who, command.since))
        await call.respond(text=text, blocks=blocks, replace_original=False)

    router.add("tokens", tokens)
    router.add("audit", audit)

    async def redraw(click: ModalAction, state: ListingState) -> None:
        who = await access.require(click.user_id, "tokens.list")
        roster = await inventory.roster(who)
        view = listing_view(roster, state)
        await slack.update_view(click.view_id, view, click.view_hash)

    @app.action(PREVIOUS_ACTION)
    @app.action(NEXT_ACTION)
    async def page_clicked(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        click = ModalAction.from_body(body, action)
        current = ListingState.decode(click.metadata)
        page = int(click.value) if click.value.isdigit() else 0
        await redraw(click, ListingState(current.selection, page))

    @app.action(FILTER_ACTION)
    async def filter_chosen(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        click = ModalAction.from_body(body, action)
        try:
            kind = Filter(click.value)
        except ValueError:
            kind = Filter.ALL
        if kind is Filter.USER:  # the menu never offers it; a forged value gets everyone
            kind = Filter.ALL
        await redraw(click, ListingState(Selection(kind)))

    @app.action(ROW_ACTION)
    async def row_action_chosen(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        await ack()
        click = ModalAction.from_body(body, action)
        chosen = parse_row_action(click.value)
        if chosen is None or not _USER_ID.fullmatch(chosen[1]):
            raise InputError(ADMIN_BAD_FORM)
        act, target = chosen
        who = await access.require(click.user_id, f"token.{act.value}", _target(target))
        one = await inventory.one(who, target)
        state = ConfirmState(
            act, target, click.view_id, click.view_hash, ListingState.decode(click.metadata)
        )
        view = confirm_view(one.rows[0], state, one.taken_at)
        await slack.push_view(click.trigger_id, view)

    @app.view(CONFIRM_CALLBACK)
    async def confirmed(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = ConfirmSubmission.from_body(body, view)
        state = form.state
        if state is None or not _USER_ID.fullmatch(state.user):
            await ack()
            raise InputError(ADMIN_BAD_FORM)
        errors = _form_errors(form, state.action)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        # Answer now; the admin check and the change may take longer than Slack waits.
        await ack(response_action="update", view=working_view(state.action))
        try:
            who = await access.require(
                form.user_id, f"token.{state.action.value}", _target(state.user)
            )
            notice = await _apply(who, state, form)
        except UserError as exc:
            # A form can answer only inside its own modal; refusals were audited already.
            failed = outcome_view(state.action, f":warning: {refusal_text(exc)}")
            await slack.update_view(form.view_id, failed, None)
            return
        await slack.update_view(form.view_id, outcome_view(state.action, notice), None)
        if state.listing_view_id:
            roster = await inventory.roster(who)
            listing = listing_view(roster, state.listing, notice=notice)
            await slack.update_view(state.listing_view_id, listing, state.listing_hash)

    async def _apply(who: Admin, state: ConfirmState, form: ConfirmSubmission) -> str:
        user = f"<@{state.user}>"
        match state.action:
            case TokenAction.EXTEND:
                expires = await actions.extend(who, state.user, int(form.days or 0), form.reason)
                return ADMIN_DONE["extend"].format(user=user, expires=utc(expires))
            case TokenAction.RESET:
                await actions.reset(who, state.user, form.reason)
                return ADMIN_DONE["reset"].format(user=user)
            case TokenAction.UNLOCK:
                await actions.unlock(who, state.user, form.reason)
                return ADMIN_DONE["unlock"].format(user=user)


def _form_errors(form: ConfirmSubmission, action: TokenAction) -> dict[str, str]:
    """Input problems shown under their field, before anything is checked or changed."""
    errors: dict[str, str] = {}
    if action is TokenAction.EXTEND:
        days = (form.days or "").strip()
        if not days.isdigit() or not 1 <= int(days) <= MAX_EXTEND_DAYS:
            errors[DAYS_BLOCK] = ADMIN_DAYS_HINT.format(max=MAX_EXTEND_DAYS)
    if len(" ".join(form.reason.split())) > MAX_REASON:
        errors[REASON_BLOCK] = f"Keep the reason under {MAX_REASON} characters."
    return errors
