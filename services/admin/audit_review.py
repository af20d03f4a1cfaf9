"""`/approvals audit`: the newest entries with the chain's verification, and exports to a file."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum

from services.admin.models import Admin
from services.audit.chain import AuditEntry, VerifyResult
from services.audit.events import AuditEvent, Auditor
from services.audit.keys import AuditKeyring
from services.audit.ports import AuditLog
from services.audit.trail import export_csv, export_jsonl, verify_trail
from services.ports import Clock

RECENT_ENTRIES = 20


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass(frozen=True)
class AuditOverview:
    """The newest entries (oldest first), how many matched, and the whole chain's check."""

    entries: list[AuditEntry]
    matched: int
    verification: VerifyResult
    since: date | None


@dataclass(frozen=True)
class AuditExport:
    filename: str
    content: str
    entries: int
    verification: VerifyResult


def day_start(since: date | None) -> datetime | None:
    return None if since is None else datetime.combine(since, time.min, tzinfo=UTC)


class AuditReview:
    """Reads the trail for admins; verification always covers the whole chain, whatever the
    `since` filter, because a break before it would make the entries after it untrustworthy."""

    def __init__(
        self, *, log: AuditLog, keys: AuditKeyring, auditor: Auditor, clock: Clock
    ) -> None:
        self._log = log
        self._keys = keys
        self._auditor = auditor
        self._clock = clock

    async def overview(
        self, admin: Admin, since: date | None, limit: int = RECENT_ENTRIES
    ) -> AuditOverview:
        del admin  # the proof of the check is all that is needed
        verification = await verify_trail(self._log, self._keys)
        newest: deque[AuditEntry] = deque(maxlen=limit)
        matched = 0
        async for entry in self._log.entries(day_start(since)):
            newest.append(entry)
            matched += 1
        return AuditOverview(list(newest), matched, verification, since)

    async def export(self, admin: Admin, since: date | None, fmt: ExportFormat) -> AuditExport:
        """The entries from the start of `since` (a UTC day) as CSV or JSON Lines."""
        verification = await verify_trail(self._log, self._keys)
        entries = [entry async for entry in self._log.entries(day_start(since))]
        content = export_csv(entries) if fmt is ExportFormat.CSV else export_jsonl(entries)
        # Recorded after reading, so the file ends before its own export entry.
        await self._auditor.record(
            AuditEvent(
                actor=admin.actor,
                action="admin.audit.export",
                target="audit-trail",
                details={
                    "format": fmt.value,
                    "since": since.isoformat() if since else "",
                    "entries": str(len(entries)),
                    "chain": "intact" if verification.ok else "broken",
                },
            )
        )
        stamp = self._clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H%MZ")
        scope = f"-since-{since.isoformat()}" if since else ""
        return AuditExport(
            f"audit-trail{scope}-{stamp}.{fmt.value}", content, len(entries), verification
        )
