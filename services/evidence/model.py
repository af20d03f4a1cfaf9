"""The evidence report's read-model: everything a report shows, assembled before rendering.

The renderer sees only these types, never the request store or the audit log, so a report shows
exactly what was gathered at one moment. Optional fields (a page title, a signature's stage)
are shown when the records hold them and left out otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Party:
    """A person as the records name them: printed name, Slack id, Atlassian account id."""

    name: str
    slack_id: str
    atlassian_id: str = ""


@dataclass(frozen=True)
class RequestFacts:
    id: str
    title: str
    requester: Party
    created_at: datetime
    expires_at: datetime
    status: str
    policy: str
    source: str
    channel: str


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class TargetFacts:
    kind: str  # "change set" or "page"
    id: str
    title: str
    summary: str
    space: str  # "KEY · Space name" where Confluence said; "" otherwise
    links: tuple[Link, ...]
    reference_url: str


@dataclass(frozen=True)
class SnapshotPage:
    page_id: str
    title: str | None
    version: int | None
    preflight: str  # "submittable", "blocked: <reason>" or "not checked"
    url: str
    edited: str = ""  # when and by whom the signed version was made, where known


@dataclass(frozen=True)
class SnapshotFacts:
    pages: tuple[SnapshotPage, ...]
    digest: str


@dataclass(frozen=True)
class SignatureFacts:
    signer: Party
    signed_at: datetime
    decision: str  # "Approved" or "Rejected"
    stage: str | None
    meaning: str
    comment: str
    reason: str
    code_verified: str  # how the Approval Token code check is evidenced
    snapshot_digest: str


@dataclass(frozen=True)
class PageResult:
    page_id: str
    title: str | None
    reason: str


@dataclass(frozen=True)
class SubmissionFacts:
    submitted_by: Party
    submitted_at: datetime | None  # None: the entry's time is unreadable (see the chain)
    outcome: str  # the audit action that settled it, in words
    submitted: tuple[PageResult, ...]
    skipped: tuple[PageResult, ...]
    note: str


@dataclass(frozen=True)
class ReviewPoint:
    """The review's rollup state from `at` on."""

    at: datetime
    state: str


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str
    actor: str
    action: str
    meaning: str
    reason: str
    kid: str
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    text: str


@dataclass(frozen=True)
class EvidenceRecord:
    """One report's content, in the order it is printed."""

    report_id: str
    generated_at: datetime
    generated_for: Party
    sandbox: bool
    request: RequestFacts
    target: TargetFacts
    snapshot: SnapshotFacts
    signatures: tuple[SignatureFacts, ...]
    submission: SubmissionFacts | None
    timeline: tuple[ReviewPoint, ...]
    audit: tuple[AuditRow, ...]
    chain: ChainCheck


@dataclass(frozen=True)
class ReportFile:
    """A generated report: the PDF bytes, its name, its id and the SHA-256 recorded for it."""

    filename: str
    content: bytes
    report_id: str
    request_id: str
    sha256: str
    pages: int


@dataclass(frozen=True)
class Verdict:
    """`evidence verify`'s answer: whether the file is an unmodified report, and what it is."""

    genuine: bool
    text: str
