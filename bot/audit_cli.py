"""`approvals-bot audit verify|export`: the command bodies, for bot/cli.py to parse and call."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal, TextIO

from services.audit.keys import AuditKeyring
from services.audit.ports import AuditLog
from services.audit.trail import export_csv, export_jsonl, verify_trail


async def verify_command(log: AuditLog, keys: AuditKeyring) -> tuple[int, str]:
    """Exit code 0 and a summary when the trail is intact, 1 and the first break otherwise."""
    result = await verify_trail(log, keys)
    return (0 if result.ok else 1), result.describe()


async def export_command(
    log: AuditLog, fmt: Literal["csv", "jsonl"], since: date | None, out: TextIO
) -> int:
    """Write the trail (from the start of `since`, a UTC day, if given) to `out`; exit code 0."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or jsonl")
    start = None if since is None else datetime.combine(since, time.min, tzinfo=UTC)
    entries = [entry async for entry in log.entries(start)]
    out.write(export_csv(entries) if fmt == "csv" else export_jsonl(entries))
    return 0
