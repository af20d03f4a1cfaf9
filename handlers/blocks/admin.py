"""Admin surfaces: the paginated token modal, the confirmations, and the audit trail message."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.blocks.common import Block, context, mrkdwn, plain, section
from handlers.messages import (
    ADMIN_ACTION_LABELS,
    ADMIN_CONFIRM,
    ADMIN_CONFIRM_TITLES,
    ADMIN_DAYS_HINT,
    ADMIN_DAYS_LABEL,
    ADMIN_REASON_LABEL,
    ADMIN_RECORDED,
    ADMIN_WORKING,
    AUDIT_BROKEN,
    AUDIT_EMPTY,
    AUDIT_INTACT,
    AUDIT_NEWEST,
    AUDIT_TITLE,
    TOKENS_EMPTY,
    TOKENS_FILTER_LABELS,
    TOKENS_FILTER_MEANINGS,
    TOKENS_LOADING,
    TOKENS_PAGE,
    TOKENS_TITLE,
)
from services.admin import (
    EXPIRING_WITHIN,
    MAX_EXTEND_DAYS,
    AuditOverview,
    Filter,
    LinkState,
    Roster,
    Selection,
    Summary,
    TokenAction,
    TokenRow,
)
from services.approval_token import Condition
from services.audit.chain import AuditEntry, parse_utc

View = dict[str, Any]

PAGE_SIZE = 25  # 25 rows and their dividers stay far below a modal's 100 blocks
AUDIT_TEXT_LIMIT = 600  # per entry line; a long reason is cut, the export has it whole

# Action and callback ids the listeners in handlers/admin.py register.
LISTING_CALLBACK = "admin_tokens"
CONFIRM_CALLBACK = "admin_token_confirm"
FILTER_ACTION = "admin_tokens_filter"
PREVIOUS_ACTION = "admin_tokens_prev"
NEXT_ACTION = "admin_tokens_next"
ROW_ACTION = "admin_tokens_row"
DAYS_BLOCK, DAYS_ACTION = "days", "days"
REASON_BLOCK, REASON_ACTION = "reason", "reason"
DEFAULT_EXTEND_DAYS = 30

_CONDITION_ICONS = {
    Condition.ACTIVE: ":large_green_circle:",
    Condition.EXPIRED: ":red_circle:",
    Condition.PENDING: ":hourglass_flowing_sand:",
    Condition.LOCKED: ":lock:",
    Condition.REVOKED: ":no_entry_sign:",
    Condition.NOT_ENROLLED: ":white_circle:",
}
_LINK_ICONS = {
    LinkState.OK: ":white_check_mark:",
    LinkState.MISSING_SCOPES: ":warning:",
    LinkState.BROKEN: ":x:",
    LinkState.UNREADABLE: ":x:",
    LinkState.NONE: ":heavy_minus_sign:",
}


# The filters a person picks from (one user is asked for by `@user`), in the menu's order.
MENU_FILTERS = [kind for kind in Filter if kind is not Filter.USER]


def filter_words(words: dict[str, str], kind: Filter) -> str:
    """A filter's label or meaning from handlers/messages.py, with the expiring window."""
    return words[kind.value].format(days=EXPIRING_WITHIN.days)


def escape(text: str) -> str:
    """Text from people (names, reasons) shown as typed: no mentions, links or markup tricks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def utc(when: datetime | None, never: str = "never") -> str:
    return never if when is None else when.strftime("%Y-%m-%d %H:%M UTC")


# --- listing state, carried in private_metadata (small, and re-checked: it can be forged) --


@dataclass(frozen=True)
class ListingState:
    selection: Selection = field(default_factory=Selection)
    page: int = 0

    def encode(self) -> str:
        data: dict[str, Any] = {"f": self.selection.filter.value, "p": self.page}
        if self.selection.user:
            data["u"] = self.selection.user
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> ListingState:
        try:
            data = json.loads(raw)
            kind = Filter(data.get("f", "all"))
            user = data.get("u")
            page = int(data.get("p", 0))
        except (ValueError, TypeError, AttributeError):
            return cls()  # unreadable metadata: start from the first page of everyone
        if kind is Filter.USER:
            if not isinstance(user, str) or not user:
                return cls()
            return cls(Selection.of_user(user[:32]), 0)
        return cls(Selection(kind), max(0, page))


@dataclass(frozen=True)
class ConfirmState:
    """Which action on whom, and the listing underneath to refresh afterwards."""

    action: TokenAction
    user: str
    listing_view_id: str
    listing_hash: str
    listing: ListingState

    def encode(self) -> str:
        data = {
            "a": self.action.value,
            "u": self.user,
            "v": self.listing_view_id,
            "h": self.listing_hash,
            "l": self.listing.encode(),
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> ConfirmState | None:
        try:
            data = json.loads(raw)
            return cls(
                action=TokenAction(data["a"]),
                user=str(data["u"])[:32],
                listing_view_id=str(data.get("v", ""))[:64],
                listing_hash=str(data.get("h", ""))[:128],
                listing=ListingState.decode(str(data.get("l", ""))),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def row_action_value(action: TokenAction, user: str) -> str:
    return f"{action.value}:{user}"


def parse_row_action(value: str) -> tuple[TokenAction, str] | None:
    action, _, user = value.partition(":")
    try:
        return TokenAction(action), user
    except ValueError:
        return None


# --- the listing modal ------------------------------------------------------------------


def loading_view() -> View:
    """Opened at once after the ack, while the trigger_id is still valid (3 s)."""
    return _modal(TOKENS_TITLE, [section(TOKENS_LOADING)], LISTING_CALLBACK)


def summary_line(summary: Summary) -> str:
    c = summary.count
    return (
        f"*{summary.people} people* · active {c(Condition.ACTIVE)} "
        f"(expiring {summary.expiring}) · expired {c(Condition.EXPIRED)} · "
        f"pending {c(Condition.PENDING)} · locked {c(Condition.LOCKED)} · "
        f"revoked {c(Condition.REVOKED)} · not enrolled {c(Condition.NOT_ENROLLED)} · "
        f"unlinked {summary.unlinked}"
    )


def pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def listing_view(roster: Roster, state: ListingState, notice: str | None = None) -> View:
    """One page of the selection, with the summary, the filter menu and Previous / Next."""
    matching = roster.matching(state.selection)
    total_pages = pages(len(matching))
    page = min(state.page, total_pages - 1)
    state = ListingState(state.selection, page)
    shown = matching[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    summary = roster.summary()

    blocks: list[Block] = []
    if notice:
        blocks.append(section(notice))
    blocks.append(section(summary_line(summary)))
    first = page * PAGE_SIZE + 1 if shown else 0
    blocks.append(
        context(
            TOKENS_PAGE.format(
                selection=_selection_label(state.selection),
                first=first,
                last=page * PAGE_SIZE + len(shown),
                total=len(matching),
                page=page + 1,
                pages=total_pages,
            )
        )
    )
    blocks.append({"type": "actions", "block_id": "filter", "elements": [_filter_menu(state)]})
    blocks.append({"type": "divider"})
    if not shown:
        blocks.append(section(TOKENS_EMPTY))
    for row in shown:
        blocks.append(row_block(row, roster.taken_at))
        blocks.append({"type": "divider"})
    nav = _nav_buttons(page, total_pages)
    if nav:
        blocks.append({"type": "actions", "block_id": "nav", "elements": nav})
    return _modal(TOKENS_TITLE, blocks, LISTING_CALLBACK, state.encode())


def row_text(row: TokenRow, now: datetime) -> str:
    """Slack name (rendered by Slack from <@id>), Atlassian name and email, link, token."""
    token, link = row.token, row.link
    head = f"*<@{row.user_id}>*"
    if link is not None:
        email = f" · {escape(link.email)}" if link.email else " · (email hidden)"
        head += f"  {escape(link.name)}{email}"
    link_text = f"{_LINK_ICONS[row.link_state]} {row.link_state.value}"
    if row.link_state is LinkState.MISSING_SCOPES and link is not None:
        link_text += f" ({', '.join(link.missing_scopes)})"
    state = token.condition.value
    if row.expiring(now):
        state += " (expiring)"
    token_text = f"{_CONDITION_ICONS[token.condition]} {state}"
    if token.condition is Condition.PENDING:
        token_text += f" · started {utc(token.created_at)} · confirm by {utc(token.pending_until)}"
    elif token.condition is not Condition.NOT_ENROLLED:
        token_text += (
            f" · enrolled {utc(row.enrolled_at, '—')} · expires {utc(token.expires_at, '—')}"
            f" · last used {utc(token.last_used_at)} · failed attempts {token.failures}"
        )
        if token.locked_until is not None:
            token_text += f" · locked until {utc(token.locked_until)}"
        if token.revoked_at is not None:
            token_text += f" · revoked {utc(token.revoked_at)}"
    return f"{head}\n*Atlassian link:* {link_text}\n*Approval Token:* {token_text}"


def row_block(row: TokenRow, now: datetime) -> Block:
    block: Block = {
        "type": "section",
        "block_id": f"row:{row.user_id}"[:255],
        "text": mrkdwn(row_text(row, now)),
    }
    if row.actions:
        block["accessory"] = {
            "type": "overflow",
            "action_id": ROW_ACTION,
            "options": [
                {"text": plain(ADMIN_ACTION_LABELS[a]), "value": row_action_value(a, row.user_id)}
                for a in row.actions
            ],
        }
    return block


def _selection_label(selection: Selection) -> str:
    if selection.filter is Filter.USER:
        return f"<@{selection.user}>"
    return f"{selection.filter.value} ({filter_words(TOKENS_FILTER_MEANINGS, selection.filter)})"


def _filter_menu(state: ListingState) -> dict[str, Any]:
    options = [
        {"text": plain(filter_words(TOKENS_FILTER_LABELS, kind)), "value": kind.value}
        for kind in MENU_FILTERS
    ]
    menu: dict[str, Any] = {
        "type": "static_select",
        "action_id": FILTER_ACTION,
        "placeholder": plain("Filter"),
        "options": options,
    }
    if state.selection.filter is not Filter.USER:
        menu["initial_option"] = next(
            o for o in options if o["value"] == state.selection.filter.value
        )
    return menu


def _nav_buttons(page: int, total_pages: int) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    if page > 0:
        buttons.append(
            {
                "type": "button",
                "action_id": PREVIOUS_ACTION,
                "text": plain("◀ Previous"),
                "value": str(page - 1),
            }
        )
    if page < total_pages - 1:
        buttons.append(
            {
                "type": "button",
                "action_id": NEXT_ACTION,
                "text": plain("Next ▶"),
                "value": str(page + 1),
            }
        )
    return buttons


# --- confirmations ------------------------------------------------------------------------


def confirm_view(row: TokenRow, state: ConfirmState, now: datetime) -> View:
    """Pushed over the listing: what will happen to whom, the days (extend), a reason."""
    action = state.action
    blocks: list[Block] = [
        section(ADMIN_CONFIRM[action].format(user=f"<@{row.user_id}>")),
        section(row_text(row, now)),
    ]
    if action is TokenAction.EXTEND:
        blocks.append(
            {
                "type": "input",
                "block_id": DAYS_BLOCK,
                "label": plain(ADMIN_DAYS_LABEL),
                "hint": plain(ADMIN_DAYS_HINT.format(max=MAX_EXTEND_DAYS)),
                "element": {
                    "type": "number_input",
                    "action_id": DAYS_ACTION,
                    "is_decimal_allowed": False,
                    "min_value": "1",
                    "max_value": str(MAX_EXTEND_DAYS),
                    "initial_value": str(DEFAULT_EXTEND_DAYS),
                },
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": REASON_BLOCK,
            "optional": True,
            "label": plain(ADMIN_REASON_LABEL),
            "element": {
                "type": "plain_text_input",
                "action_id": REASON_ACTION,
                "max_length": 280,
            },
        }
    )
    blocks.append(context(ADMIN_RECORDED))
    view = _modal(ADMIN_CONFIRM_TITLES[action], blocks, CONFIRM_CALLBACK, state.encode())
    view["submit"] = plain(ADMIN_ACTION_LABELS[action].rstrip("…"))
    view["close"] = plain("Back")
    return view


def working_view(action: TokenAction) -> View:
    """Shown by the submission's ack while the server checks and acts."""
    view = _modal(ADMIN_CONFIRM_TITLES[action], [section(ADMIN_WORKING)], CONFIRM_CALLBACK)
    view["close"] = plain("Back")
    return view


def outcome_view(action: TokenAction, text: str) -> View:
    view = _modal(ADMIN_CONFIRM_TITLES[action], [section(text)], CONFIRM_CALLBACK)
    view["close"] = plain("Back")
    return view


def _modal(title: str, blocks: list[Block], callback_id: str, metadata: str = "") -> View:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title),
        "close": plain("Close"),
        "private_metadata": metadata,
        "blocks": blocks,
    }


# --- /approvals audit ---------------------------------------------------------------------


def entry_line(entry: AuditEntry) -> str:
    """An entry as people read it: printed name, UTC date and time, the act and its meaning
    (21 CFR 11.50: a signature is never shown without all three)."""
    try:
        when = parse_utc(entry.at).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        when = f"(unreadable time {escape(entry.at[:40])})"
    name = escape(entry.printed_name or entry.actor_slack_id)
    parts = [f"`#{entry.seq}` {when}", f"*{name}* (`{escape(entry.actor_slack_id)}`)"]
    parts.append(f"`{escape(entry.action)}`")
    if entry.meaning:
        parts.append(f"meaning: _{escape(entry.meaning)}_")
    if entry.target:
        parts.append(f"target: {escape(entry.target)}")
    if entry.reason:
        parts.append(f"reason: {escape(entry.reason)}")
    line = " · ".join(parts)
    return line if len(line) <= AUDIT_TEXT_LIMIT else line[: AUDIT_TEXT_LIMIT - 1] + "…"


def verification_line(overview_ok: bool, describe: str) -> str:
    return (AUDIT_INTACT if overview_ok else AUDIT_BROKEN).format(result=escape(describe))


def audit_message(overview: AuditOverview) -> tuple[str, list[Block]]:
    since = f" since {overview.since.isoformat()}" if overview.since else ""
    check = verification_line(overview.verification.ok, overview.verification.describe())
    blocks: list[Block] = [section(f"*{AUDIT_TITLE}*{since}"), section(check)]
    if overview.entries:
        blocks.append(
            context(AUDIT_NEWEST.format(shown=len(overview.entries), matched=overview.matched))
        )
        blocks.extend(section(entry_line(entry)) for entry in overview.entries)
    else:
        blocks.append(section(AUDIT_EMPTY))
    text = f"{AUDIT_TITLE}{since}: {check}"
    return text, blocks
