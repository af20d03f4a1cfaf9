"""Builds an `EvidenceRecord` from a request and the audit trail as read at one moment.

Pure: no I/O. What the request record does not keep (who the requester is by name, who
submitted, when each review state began, how each code was checked) comes from the request's own
audit entries, which are sealed and verified with the rest of the chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.approvalflow.page_url import page_view_url
from services.approvalflow.targets import ChangeSetTarget, PageSnapshot, PageTarget
from services.audit.chain import AuditEntry, VerifyResult
from services.evidence.model import (
    AuditRow,
    ChainCheck,
    EvidenceRecord,
    Link,
    PageResult,
    Party,
    RequestFacts,
    ReviewPoint,
    SignatureFacts,
    SnapshotFacts,
    SnapshotPage,
    SubmissionFacts,
    TargetFacts,
)
from services.requests.model import DEFAULT_POLICY_NAME, ApprovalRequest, Decision, Signature

# The audit actions that settle a submit, in the words a report uses for each.
SUBMIT_OUTCOMES = {
    "request.submit.succeeded": "submitted",
    "request.submit.confirmed": "submitted (confirmed after a timeout)",
    "request.submit.recovered": "submitted (found done after a restart)",
}
SIGNATURE_RECORDED = "request.signature.recorded"
REVIEW_CHANGED = "request.review.changed"
CODE_VERIFIED = "token.verify.ok"
DEFAULT_POLICY = "one signature (the default: no signing policy named)"


@dataclass(frozen=True)
class Moment:
    """Who asked for the report, when, under which id; and whether the bot runs on a sandbox."""

    report_id: str
    generated_at: datetime
    generated_for: Party
    sandbox: bool


def request_target(request_id: str) -> str:
    """The audit `target` of every entry about a request."""
    return f"request:{request_id}"


def request_entries(request_id: str, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    target = request_target(request_id)
    return [entry for entry in entries if entry.target == target]


def assemble(
    request: ApprovalRequest,
    entries: Sequence[AuditEntry],
    chain: VerifyResult,
    moment: Moment,
    *,
    site_url: str,
) -> EvidenceRecord:
    """The report's content. `entries` is the whole trail as read (code checks are recorded
    against the signer's Approval Token, not the request)."""
    own = request_entries(request.id, entries)
    return EvidenceRecord(
        report_id=moment.report_id,
        generated_at=moment.generated_at,
        generated_for=moment.generated_for,
        sandbox=moment.sandbox,
        request=_request_facts(request, own),
        target=_target_facts(request, site_url),
        snapshot=_snapshot_facts(request, site_url),
        signatures=tuple(_signature_facts(request, s, own, entries) for s in request.signatures),
        submission=_submission_facts(request, own),
        timeline=_timeline(own),
        audit=tuple(_audit_row(entry) for entry in own),
        chain=ChainCheck(ok=chain.ok, text=chain.describe()),
    )


def _party(entry: AuditEntry) -> Party:
    return Party(
        name=entry.actor_name or entry.actor_slack_id,
        slack_id=entry.actor_slack_id,
        atlassian_id=entry.actor_atlassian_id,
    )


def _first(entries: Sequence[AuditEntry], action: str) -> AuditEntry | None:
    return next((entry for entry in entries if entry.action == action), None)


def _request_facts(request: ApprovalRequest, own: Sequence[AuditEntry]) -> RequestFacts:
    created = _first(own, "request.created")
    requester = (
        _party(created) if created is not None else Party(request.requester, request.requester)
    )
    return RequestFacts(
        id=request.id,
        title=request.title or request.snapshot.title or str(request.target),
        requester=requester,
        created_at=request.created_at,
        expires_at=request.expires_at,
        status=request.status.value,
        policy=_policy_text(request),
        source=_source(request.source),
        channel=request.channel,
    )


def _policy_text(request: ApprovalRequest) -> str:
    """The signing policy by name and its stages (quorum and meaning), or the default's words."""
    policy = request.effective_policy
    if policy.name == DEFAULT_POLICY_NAME:
        return DEFAULT_POLICY
    stages = "; ".join(
        f"{n}. {stage.name}: {_signatures(stage.quorum)}"
        + (f", “{stage.meaning}”" if stage.meaning else "")
        for n, stage in enumerate(policy.stages, start=1)
    )
    about = f" ({policy.description})" if policy.description else ""
    return f"{policy.name}{about}. Stages in order: {stages}"


def _signatures(count: int) -> str:
    return "1 signature" if count == 1 else f"{count} signatures"


def _stage_text(request: ApprovalRequest, signature: Signature) -> str | None:
    stages = request.stages
    if len(stages) < 2 or not 0 <= signature.stage < len(stages):
        return None
    return f"{signature.stage + 1} of {len(stages)}, {stages[signature.stage].name}"


def _source(source: str) -> str:
    if source.startswith("watch:"):
        return f"posted for a new change set in watched space {source.removeprefix('watch:')}"
    return "posted with /approvals request" if source == "command" else source


def _target_facts(request: ApprovalRequest, site_url: str) -> TargetFacts:
    target = request.target
    links: list[Link] = []
    if isinstance(target, ChangeSetTarget):
        kind = "change set"
    else:
        kind = "page"
        links.append(Link(f"page {target.page_id}", page_view_url(site_url, target.page_id)))
    reference = request.reference_url or ""
    if reference and not reference.startswith(("https://", "http://")):
        reference = ""  # only web links are shown as links; anything else is not ours to follow
    snapshot = request.snapshot
    space_key = snapshot.space_key or (target.space_key if isinstance(target, PageTarget) else None)
    space = " · ".join(part for part in (space_key, snapshot.space_name) if part)
    return TargetFacts(
        kind=kind,
        id=target.id,
        title=snapshot.title or request.title or "",
        summary=request.summary or "",
        space=space,
        links=tuple(links),
        reference_url=reference,
    )


def _page_title(request: ApprovalRequest, page: PageSnapshot) -> str | None:
    """The page's title as Confluence gave it with the requester's token; else the submit's."""
    if page.title:
        return page.title
    if page.restricted:
        return "(restricted: Confluence did not show it to the requester)"
    return next((o.title for o in request.outcomes if o.page_id == page.page_id and o.title), None)


def _preflight(page: PageSnapshot) -> str:
    if page.can_submit is None:
        return "not checked"
    if page.can_submit:
        return "submittable"
    return f"blocked: {page.reason}" if page.reason else "blocked"


def _edited(page: PageSnapshot) -> str:
    """When and by whom (Atlassian account id) the signed version was made, where known."""
    parts = []
    if page.edited_at is not None:
        parts.append(page.edited_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    if page.edited_by:
        parts.append(f"by Atlassian account {page.edited_by}")
    return " ".join(parts)


def _snapshot_facts(request: ApprovalRequest, site_url: str) -> SnapshotFacts:
    pages = tuple(
        SnapshotPage(
            page_id=page.page_id,
            title=_page_title(request, page),
            version=page.version,
            preflight=_preflight(page),
            url=page_view_url(site_url, page.page_id),
            edited=_edited(page),
        )
        for page in request.snapshot.pages
    )
    return SnapshotFacts(pages=pages, digest=request.snapshot.digest)


def _signature_facts(
    request: ApprovalRequest,
    signature: Signature,
    own: Sequence[AuditEntry],
    entries: Sequence[AuditEntry],
) -> SignatureFacts:
    signer = signature.signer
    recorded = next(
        (e for e in own if e.action == SIGNATURE_RECORDED and e.actor_slack_id == signer.slack_id),
        None,
    )
    rejected = signature.decision is Decision.REJECT
    return SignatureFacts(
        signer=Party(signer.name, signer.slack_id, signer.atlassian_id),
        signed_at=signature.signed_at,
        decision="Rejected" if rejected else "Approved",
        stage=_stage_text(request, signature),
        meaning=signature.meaning,
        comment="" if rejected else signature.comment,
        reason=signature.comment if rejected else "",
        code_verified=_code_check(signer.slack_id, recorded, entries),
        snapshot_digest=signature.snapshot_digest,
    )


def _code_check(slack_id: str, recorded: AuditEntry | None, entries: Sequence[AuditEntry]) -> str:
    """A recorded signature passed the Approval Token check (the service records none without
    it); the audit entry of that check is named when it is found just before the signature."""
    if recorded is None:
        return "code verified (its audit entry is not in the trail)"
    token = f"approval-token:{slack_id}"
    check = None
    for entry in entries:
        if entry.seq >= recorded.seq:
            break
        if (
            entry.action == CODE_VERIFIED
            and entry.target == token
            and entry.details.get("purpose") == "sign"
        ):
            check = entry
    if check is None:
        return f"code verified (signature entry #{recorded.seq})"
    return f"code verified: Approval Token check #{check.seq} at {check.at}"


def _submission_facts(
    request: ApprovalRequest, own: Sequence[AuditEntry]
) -> SubmissionFacts | None:
    settled = next((e for e in reversed(own) if e.action in SUBMIT_OUTCOMES), None)
    if settled is None:
        return None
    titles = {o.page_id: o.title for o in request.outcomes}
    submitted = tuple(PageResult(o.page_id, o.title, "") for o in request.outcomes if o.submitted)
    skipped = tuple(
        PageResult(o.page_id, o.title, o.reason or "no reason given")
        for o in request.outcomes
        if not o.submitted
    )
    if not request.outcomes:  # the request record lost them; the audit entry still names them
        submitted = tuple(
            PageResult(p, titles.get(p), "") for p in _ids(settled.details.get("submitted", ""))
        )
        skipped = tuple(
            PageResult(p, titles.get(p), "see the audit entry")
            for p in _ids(settled.details.get("skipped", ""))
        )
    return SubmissionFacts(
        submitted_by=_party(settled),
        submitted_at=_time(settled),
        outcome=SUBMIT_OUTCOMES[settled.action],
        submitted=submitted,
        skipped=skipped,
        note=settled.reason,
    )


def _ids(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def _timeline(own: Sequence[AuditEntry]) -> tuple[ReviewPoint, ...]:
    """The review after the submit: "submitted" at the submit, then each rollup state."""
    points: list[ReviewPoint] = []
    settled = next((e for e in own if e.action in SUBMIT_OUTCOMES), None)
    if settled is not None and (at := _time(settled)) is not None:
        points.append(ReviewPoint(at, "submitted"))
    for entry in own:
        state = entry.details.get("current")
        if entry.action == REVIEW_CHANGED and state and (at := _time(entry)) is not None:
            points.append(ReviewPoint(at, state))
    return tuple(points)


def _time(entry: AuditEntry) -> datetime | None:
    """The entry's time; None when its stored text is unreadable (the chain check says why)."""
    try:
        return entry.time
    except ValueError:
        return None


def _audit_row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor_name or entry.actor_slack_id,
        action=entry.action,
        meaning=entry.meaning,
        reason=entry.reason,
        kid=entry.kid or "unkeyed",
        hash=entry.hash,
    )
