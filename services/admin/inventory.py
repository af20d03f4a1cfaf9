"""`/approvals tokens`: every known user's Approval Token and Atlassian link, and the CSV export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.admin.models import Admin, LinkEntry, Roster, Summary, TokenRow
from services.admin.ports import LinkRoster, MemberNames
from services.approval_token import ApprovalTokens, Condition, TokenStatus
from services.audit.events import AuditEvent, Auditor
from services.ports import Clock

# Spreadsheet programs run a cell starting with one of these as a formula; a display name
# chosen in Atlassian or Slack must never become one.
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS: tuple[str, ...] = (
    "slack_user_id",
    "slack_name",
    "atlassian_name",
    "atlassian_email",
    "atlassian_account_id",
    "link_state",
    "missing_scopes",
    "approval_token_state",
    "expiring_within_7_days",
    "enrolment_started_at_utc",
    "enrolled_at_utc",
    "expires_at_utc",
    "last_used_at_utc",
    "failed_attempts",
    "locked_until_utc",
    "revoked_at_utc",
)


@dataclass(frozen=True)
class TokenExport:
    filename: str
    content: str
    rows: int
    summary: Summary
    taken_at: datetime


def utc_iso(when: datetime | None) -> str:
    """Seconds, UTC, with a Z: what spreadsheets and auditors read without guessing a zone."""
    return "" if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_LEADS) else value


def _sort_key(row: TokenRow) -> tuple[bool, str, str]:
    # Linked people by their Atlassian name, then the rest by Slack id: stable between pages.
    name = row.link.name.casefold() if row.link is not None else ""
    return (row.link is None, name, row.user_id)


class TokenInventory:
    """Reads every token record and every link in bulk and joins them per Slack user."""

    def __init__(
        self,
        *,
        tokens: ApprovalTokens,
        links: LinkRoster,
        names: MemberNames,
        auditor: Auditor,
        clock: Clock,
    ) -> None:
        self._tokens = tokens
        self._links = links
        self._names = names
        self._auditor = auditor
        self._clock = clock

    async def roster(self, admin: Admin) -> Roster:
        """One row per user with a token record or a link; no Slack calls (views show <@id>)."""
        del admin  # the proof of the check is all that is needed
        now = self._clock.now()
        statuses = {status.user: status for status in await self._tokens.all_statuses()}
        links = {entry.user_id: entry for entry in await self._links.all_links()}
        rows = [
            _row(user, statuses.get(user), links.get(user))
            for user in statuses.keys() | links.keys()
        ]
        return Roster(rows=sorted(rows, key=_sort_key), taken_at=now)

    async def one(self, admin: Admin, user: str) -> Roster:
        """A roster of one user's row, read fresh (for a confirmation)."""
        del admin
        now = self._clock.now()
        row = _row(user, await self._tokens.status(user), await self._links.entry(user))
        return Roster(rows=[row], taken_at=now)

    async def export(self, admin: Admin) -> TokenExport:
        """The whole table as CSV, with printed Slack names; the export itself is audited."""
        roster = await self.roster(admin)
        names = await self._names.names()
        rows = [replace(row, slack_name=names.get(row.user_id, "")) for row in roster.rows]
        content = token_csv(rows, roster.taken_at)
        summary = roster.summary()
        await self._auditor.record(
            AuditEvent(
                actor=admin.actor,
                action="admin.tokens.export",
                target="approval-tokens",
                details={"rows": str(len(rows)), "format": "csv"},
            )
        )
        stamp = roster.taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H%MZ")
        filename = f"approval-tokens-{stamp}.csv"
        return TokenExport(filename, content, len(rows), summary, roster.taken_at)


def _row(user: str, status: TokenStatus | None, entry: LinkEntry | None) -> TokenRow:
    token = status or TokenStatus(user=user, condition=Condition.NOT_ENROLLED)
    if entry is None:
        return TokenRow(user_id=user, token=token)
    return TokenRow(user_id=user, token=token, link=entry.link, link_state=entry.state)


def token_csv(rows: list[TokenRow], now: datetime) -> str:
    """RFC 4180 CSV with a header row (CSV_COLUMNS); times in UTC; no secret of any kind."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        link, token = row.link, row.token
        values = (
            row.user_id,
            row.slack_name or "",
            link.name if link else "",
            (link.email or "") if link else "",
            link.account_id if link else "",
            row.link_state.value,
            " ".join(link.missing_scopes) if link else "",
            token.condition.value,
            "yes" if row.expiring(now) else "no",
            utc_iso(token.created_at),
            utc_iso(row.enrolled_at),
            utc_iso(token.expires_at),
            utc_iso(token.last_used_at),
            str(token.failures),
            utc_iso(token.locked_until),
            utc_iso(token.revoked_at),
        )
        writer.writerow([_cell(value) for value in values])
    return buffer.getvalue()
