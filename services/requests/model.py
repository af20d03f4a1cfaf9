"""The approval request and its signatures, as the domain sees them (no Slack, no Redis)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from services.approvalflow.targets import Target, TargetSnapshot

# Request ids are short and typeable (ARCHITECTURE §6): "AR-" and 4 characters from an alphabet
# without look-alikes (no 0/O, 1/I/L, 5/S, 8/B).
ID_ALPHABET = "2346790ACDEFGHJKMNPQRTUVWXYZ"
ID_LENGTH = 4


def new_request_id() -> str:
    return "AR-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def normalise_request_id(text: str) -> str | None:
    """`ar-7k3q`, `AR7K3Q` or `7K3Q` -> `AR-7K3Q`; None when it cannot be an id."""
    cleaned = text.strip().upper().removeprefix("AR").lstrip("-")
    if len(cleaned) == ID_LENGTH and all(c in ID_ALPHABET for c in cleaned):
        return f"AR-{cleaned}"
    return None


class Status(StrEnum):
    """Where a request is. Only PENDING can be signed."""

    PENDING = "pending"  # waiting for a signature
    SUBMITTING = "submitting"  # an approval was signed; the submit call is in flight
    SUBMITTED = "submitted"  # ApprovalFlow accepted the submit; the review is tracked
    REJECTED = "rejected"  # a reviewer rejected it; nothing was submitted
    EXPIRED = "expired"  # nobody signed within REQUEST_TTL_HOURS
    CLOSED = "closed"  # tracking ended (all_approved, has_rejections, archived, stale)


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class Signer:
    """Who signs: the Slack user and the Atlassian account that acts for them."""

    slack_id: str
    atlassian_id: str
    name: str  # printed name (21 CFR 11.50)


@dataclass(frozen=True)
class Signature:
    """One verified approve or reject; never edited once recorded."""

    signer: Signer
    decision: Decision
    meaning: str  # e.g. "I approve submitting these 3 pages for review"
    comment: str
    signed_at: datetime  # UTC
    snapshot_digest: str


@dataclass(frozen=True)
class PageOutcome:
    """A page's result of a submit: submitted, or skipped with the reason."""

    page_id: str
    title: str | None
    submitted: bool
    reason: str | None = None


@dataclass(frozen=True)
class ApprovalRequest:
    """A sign-off request for one target, posted in one channel message."""

    id: str
    target: Target
    title: str
    requester: str  # Slack user id
    reviewers: tuple[str, ...]  # Slack user ids; empty with no groups: anyone but the requester
    reviewer_groups: tuple[str, ...]  # Slack user group (subteam) ids
    channel: str
    created_at: datetime
    expires_at: datetime
    snapshot: TargetSnapshot  # as preflighted when the request was made
    status: Status = Status.PENDING
    message_ts: str | None = None
    summary: str | None = None
    reference_url: str | None = None
    signatures: tuple[Signature, ...] = ()
    outcomes: tuple[PageOutcome, ...] = ()  # of the submit
    last_error: str | None = None  # a failed submit, shown on the message
    rollup_state: str | None = None  # tracked after the submit
    reminded: bool = False
    source: str = "command"  # or "watch:<space id>"
    extra: dict[str, str] = field(default_factory=dict)

    def with_changes(self, **changes: object) -> ApprovalRequest:
        return replace(self, **changes)  # type: ignore[arg-type]


# A rejection reason's length (issue 6; ApprovalFlow's own rule for rejection comments, §3.3).
REASON_MIN, REASON_MAX = 20, 280
COMMENT_MAX = 280  # an approval's optional comment, as long as a reason may be


def signature_meaning(decision: Decision, pages: int) -> str:
    """The meaning a signature carries (21 CFR 11.50): what the signer approves or rejects."""
    verb = "approve" if decision is Decision.APPROVE else "reject"
    what = "this page" if pages == 1 else f"these {pages} pages"
    return f"I {verb} submitting {what} for review"
