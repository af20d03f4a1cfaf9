"""The PDF renderer on its own: edge cases of the read-model, markup in outside text, and the
one foreign-error boundary (a missing font is a ConfigError naming the package)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.errors import ConfigError
from services.evidence.model import (
    AuditRow,
    ChainCheck,
    EvidenceRecord,
    Party,
    RequestFacts,
    ReviewPoint,
    SnapshotFacts,
    SnapshotPage,
    SubmissionFacts,
    TargetFacts,
)
from services.evidence.pdf import PdfEvidenceRenderer

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ALICE = Party("Łucja Żółć-Ørsted", "U0ALICE", "acc-1")


def record(**changes: object) -> EvidenceRecord:
    base = EvidenceRecord(
        report_id="EV-2346790A",
        generated_at=T0 + timedelta(days=5),
        generated_for=ALICE,
        sandbox=False,
        request=RequestFacts(
            "AR-7K3Q",
            "<b>Bold</b> & <i>co</i>",
            ALICE,
            T0,
            T0 + timedelta(days=3),
            "submitted",
            "two stages",
            "command",
            "C0DOCS",
        ),
        target=TargetFacts("page", "65611", "", "", "ENG · Engineering", (), ""),
        snapshot=SnapshotFacts(
            (
                SnapshotPage(
                    "65611", "Παράδειγμα", None, "not checked", "https://x/65611", "by acc-9"
                ),
            ),
            "d" * 64,
        ),
        signatures=(),
        submission=SubmissionFacts(ALICE, None, "submitted", (), (), "a note"),
        timeline=(ReviewPoint(T0, "submitted"), ReviewPoint(T0 + timedelta(days=4), "weird")),
        audit=(AuditRow(1, "garbled", "system", "request.created", "", "", "unkeyed", "0" * 64),),
        chain=ChainCheck(False, "audit trail BROKEN at seq 1: edited"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def text_of(content: bytes, tmp: Path) -> str:
    path = tmp / "r.pdf"
    path.write_bytes(content)
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_edge_cases_render_and_say_what_is_missing(tmp_path: Path) -> None:
    rendered = PdfEvidenceRenderer().render(record())
    text = text_of(rendered.content, tmp_path)
    assert rendered.pages >= 1 and rendered.content.startswith(b"%PDF-")
    for words in (
        "<b>Bold</b> & <i>co</i>",  # outside text is printed, never read as markup
        "Łucja Żółć-Ørsted",
        "Παράδειγμα",
        "No signature is recorded",
        "time unreadable",
        "weird",
        "days after the submit",
        "BROKEN",
        "Reference link",
        "ENG · Engineering",
        "by acc-9",
        "page 1 of",
    ):
        assert words in text, words


def test_no_review_and_no_audit(tmp_path: Path) -> None:
    rendered = PdfEvidenceRenderer().render(record(timeline=(), audit=(), submission=None))
    text = text_of(rendered.content, tmp_path)
    assert "No review: the request was not submitted" in text
    assert "No audit entry names this request" in text
    assert "Nothing was submitted to ApprovalFlow" in text


def test_a_missing_font_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fonts-dejavu-core"):
        PdfEvidenceRenderer(font_dir=tmp_path).render(record())
