"""The evidence read-model from a request and audit entries: who, which code check, what was
submitted (from the audit entry when the request lost its outcomes), the review timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.approvalflow.targets import ChangeSetTarget, PageSnapshot, TargetSnapshot
from services.audit.chain import EMPTY_HEAD, AuditEntry, VerifyResult
from services.evidence.assemble import DEFAULT_POLICY, Moment, assemble
from services.evidence.model import Party
from services.requests.model import ApprovalRequest, Decision, Signature, Signer, Status

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BOB = Signer("U0BOB", "acc-bob", "Bob Baker")
SITE = "https://sandbox.atlassian.net"


def entry(seq: int, action: str, target: str, actor: str = "U0BOB", **details: str) -> AuditEntry:
    at = (NOW + timedelta(minutes=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return AuditEntry(
        seq=seq, at=at, actor_slack_id=actor, action=action, prev_hash="0" * 64,
        hash=f"{seq:064x}", actor_name={"U0BOB": "Bob Baker"}.get(actor, ""),
        target=target, details=details, kid="1a2b3c4d",
    )  # fmt: skip


def request() -> ApprovalRequest:
    target = ChangeSetTarget("cs-eng184")
    pages = (PageSnapshot("65601", 7, True), PageSnapshot("65602", 3, False, reason="no flow"))
    signature = Signature(BOB, Decision.APPROVE, "I approve", "LGTM", NOW, "d" * 64)
    return ApprovalRequest(
        id="AR-7K3Q", target=target, title="PR-184", requester="U0ALICE", reviewers=(),
        reviewer_groups=(), channel="C0DOCS", created_at=NOW, expires_at=NOW + timedelta(days=3),
        snapshot=TargetSnapshot(target, "PR-184", pages, "d" * 64), status=Status.CLOSED,
        signatures=(signature,), reference_url="javascript:alert(1)",
    )  # fmt: skip


def test_the_record_reads_the_trail() -> None:
    own = "request:AR-7K3Q"
    entries = [
        entry(1, "token.verify.ok", "approval-token:U0BOB", purpose="sign"),
        entry(2, "token.verify.ok", "approval-token:U0CAROL", "U0CAROL", purpose="sign"),
        entry(3, "request.signature.recorded", own),
        entry(4, "request.submit.succeeded", own, submitted="65601", skipped="65602"),
        entry(5, "request.review.changed", own, "system", current="in_review"),
        entry(6, "request.review.changed", "request:AR-OTHR", "system", current="stale"),
        entry(7, "request.review.changed", own, "system", current="all_approved"),
    ]
    moment = Moment("EV-2346790A", NOW + timedelta(hours=1), Party("Bob Baker", "U0BOB"), True)
    record = assemble(
        request(), entries, VerifyResult(ok=True, checked=7, head=EMPTY_HEAD), moment, site_url=SITE
    )

    # No request.created entry: the requester is named by Slack id alone.
    assert record.request.requester == Party("U0ALICE", "U0ALICE")
    assert record.request.policy == DEFAULT_POLICY
    assert record.target.reference_url == "", "only web links are shown"
    [signature] = record.signatures
    assert signature.code_verified.startswith("code verified: Approval Token check #1 ")
    assert signature.comment == "LGTM" and signature.reason == ""
    submission = record.submission
    assert submission is not None and submission.submitted_by.name == "Bob Baker"
    assert [p.page_id for p in submission.submitted] == ["65601"]
    assert [(p.page_id, p.reason) for p in submission.skipped] == [("65602", "see the audit entry")]
    assert [p.state for p in record.timeline] == ["submitted", "in_review", "all_approved"]
    assert [row.seq for row in record.audit] == [3, 4, 5, 7]
    assert record.snapshot.pages[1].preflight == "blocked: no flow"
    assert record.snapshot.pages[0].url.endswith("pageId=65601")
