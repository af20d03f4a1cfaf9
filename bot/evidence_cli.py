"""`approvals-bot evidence <request-id> [-o FILE]` and `approvals-bot evidence verify FILE`."""

from __future__ import annotations

import asyncio
import getpass
import socket
from pathlib import Path
from typing import TextIO

from handlers.blocks.refusals import refusal_text
from services.errors import UserError
from services.evidence import EvidenceReports
from services.evidence.model import Party

USAGE = (
    "use `approvals-bot evidence <request-id> [-o FILE]` or `approvals-bot evidence verify FILE`"
)


def operator() -> Party:
    """Who runs the command: the operating-system account on this host (no Slack identity)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment nor the password database
        user = "unknown"
    return Party(name=f"{user}@{socket.gethostname()} (command line)", slack_id=f"cli:{user}")


async def evidence_command(
    evidence: EvidenceReports, words: list[str], output: Path | None, out: TextIO, err: TextIO
) -> int:
    """Exit 0 when the report was written (or the file verifies), 1 otherwise, 2 on misuse."""
    if words[:1] == ["verify"]:
        if len(words) != 2 or output is not None:
            print(f"evidence verify takes one FILE: {USAGE}", file=err)
            return 2
        return await _verify(evidence, Path(words[1]), out, err)
    if len(words) != 1:
        print(f"one request id, please: {USAGE}", file=err)
        return 2
    try:
        report = await evidence.for_operator(words[0], operator())
    except UserError as exc:
        print(refusal_text(exc), file=err)
        return 1
    path = output or Path(report.filename)
    await asyncio.to_thread(path.write_bytes, report.content)
    print(
        f"wrote {path}: evidence report {report.report_id} of {report.request_id}, "
        f"{report.pages} pages, SHA-256 {report.sha256} (recorded in the audit trail)",
        file=out,
    )
    return 0


async def _verify(evidence: EvidenceReports, path: Path, out: TextIO, err: TextIO) -> int:
    try:
        content = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror or exc}", file=err)
        return 1
    verdict = await evidence.verify(content)
    print(verdict.text, file=out)
    return 0 if verdict.genuine else 1
