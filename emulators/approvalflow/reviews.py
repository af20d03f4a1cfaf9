"""ApprovalFlow's behaviour over the sandbox world: eligibility, submission, decisions, rollup.

Functions answer in the documented JSON shapes (approvalflow-api.md §2); they raise `ApiError`
(400) for bad API parameters and `AdminError` for refused Confluence-side acts (decide, edit).
A change set's view of a page is the page's latest submission made through that change set;
a page's pending approval blocks it everywhere.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from emulators.approvalflow.contract import (
    ALREADY_APPROVED,
    ALREADY_PENDING,
    NO_WORKFLOW,
    PAGE_DELETED,
    PAGE_NOT_PUBLISHED,
    iso,
)
from emulators.approvalflow.errors import AdminError, ApiError
from emulators.approvalflow.models import Approval, ChangeSet, Decision, Page, Workflow, World

PageState = Literal["not_submitted", "pending", "approved", "stale", "rejected"]
REJECT_COMMENT_LENGTH = (20, 280)  # approvalflow-api.md §6.2: since July 2026


# --- lookups -----------------------------------------------------------------------------


def find_page(world: World, page_id: str, cloud_id: str | None = None) -> Page:
    page = world.pages.get(page_id)
    if page is None or not _on_site(world, page.space_id, cloud_id):
        raise ApiError(400, f"Page not found: {page_id}")
    return page


def ensure_space(world: World, space_id: str, cloud_id: str | None = None) -> None:
    if not _on_site(world, space_id, cloud_id):
        raise ApiError(400, f"Space not found: {space_id}")


def find_change_set(world: World, change_set_id: str, cloud_id: str | None = None) -> ChangeSet:
    change_set = world.change_sets.get(change_set_id)
    if change_set is None or not _on_site(world, change_set.space_id, cloud_id):
        raise ApiError(400, f"Change set not found: {change_set_id}")
    return change_set


def _on_site(world: World, space_id: str, cloud_id: str | None) -> bool:
    space = world.spaces.get(space_id)
    return space is not None and (cloud_id is None or space.site_id == cloud_id)


def assigned_workflow(world: World, page: Page) -> Workflow | None:
    """The explicit assignment, else the space's only active workflow (§7), else none."""
    if page.workflow_id is not None:
        workflow = world.workflows.get(page.workflow_id)
        return workflow if workflow is not None and workflow.active else None
    active = [w for w in world.workflows.values() if w.space_id == page.space_id and w.active]
    return active[0] if len(active) == 1 else None


def latest_approval(world: World, page_id: str) -> Approval | None:
    submissions = world.approvals_of(page_id)
    return submissions[-1] if submissions else None


def latest_in_set(world: World, page_id: str, change_set_id: str) -> Approval | None:
    return next(
        (a for a in reversed(world.approvals_of(page_id)) if a.change_set_id == change_set_id),
        None,
    )


# --- eligibility, rollup, views ----------------------------------------------------------


def block_reason(world: World, page: Page, previous: Approval | None) -> str | None:
    """Why the page cannot be submitted now, or None; `previous` is the submission it follows."""
    if page.status == "deleted":
        return PAGE_DELETED
    if page.status == "draft":
        return PAGE_NOT_PUBLISHED
    current = latest_approval(world, page.id)
    if current is not None and current.status == "pending":
        return ALREADY_PENDING
    if (
        previous is not None
        and previous.status == "approved"
        and previous.approved_at_version == page.version
    ):
        return ALREADY_APPROVED
    if assigned_workflow(world, page) is None:
        return NO_WORKFLOW
    return None


def page_state(world: World, change_set: ChangeSet, page_id: str) -> PageState:
    approval = latest_in_set(world, page_id, change_set.id)
    if approval is None:
        return "not_submitted"
    if approval.status == "pending":
        return "pending"
    if approval.status == "rejected":
        return "rejected"
    if approval.approved_at_version is not None and (
        world.pages[page_id].version > approval.approved_at_version
    ):
        return "stale"
    return "approved"


def rollup_state(world: World, change_set: ChangeSet) -> str:
    """§4.2, computed on every read. Precedence when several hold is undocumented; ours is
    rejections, then stale, then the progress states."""
    states = [page_state(world, change_set, page_id) for page_id in change_set.page_ids]
    if "rejected" in states:
        return "has_rejections"
    if "stale" in states:
        return "stale"
    if all(state == "not_submitted" for state in states):
        return "open"
    if all(state == "approved" for state in states):
        return "all_approved"
    if "approved" in states:
        return "partially_approved"
    return "in_review"


def change_set_view(world: World, change_set: ChangeSet) -> dict[str, Any]:
    """A change set as GET /changeSets lists it (§2.1)."""
    return {
        "id": change_set.id,
        "spaceId": change_set.space_id,
        "title": change_set.title,
        "summary": change_set.summary,
        "referenceUrl": change_set.reference_url,
        "status": change_set.status,
        "rollupState": rollup_state(world, change_set),
        "pageRefs": [{"pageId": page_id} for page_id in change_set.page_ids],
        "createdAt": iso(change_set.created_at),
        "createdBy": change_set.created_by,
    }


def change_set_detail(world: World, change_set: ChangeSet) -> dict[str, Any]:
    """The list view with the per-page version enrichment of §2.2 inside `pageRefs`."""
    view = change_set_view(world, change_set)
    view["pageRefs"] = [_page_ref(world, change_set, page_id) for page_id in change_set.page_ids]
    return view


def _page_ref(world: World, change_set: ChangeSet, page_id: str) -> dict[str, Any]:
    current = world.pages[page_id].version
    approval = latest_in_set(world, page_id, change_set.id)
    approved_at = approval.approved_at_version if approval is not None else None
    return {
        "pageId": page_id,
        "currentPageVersion": current,
        "approvedAtVersion": approved_at,
        "isStale": approved_at is not None and current > approved_at,
        "versionDelta": current - approved_at if approved_at is not None else None,
    }


def preflight(world: World, page: Page, change_set_id: str | None) -> dict[str, Any]:
    """One preflight `results[]` entry (§2.8)."""
    reason = block_reason(world, page, _previous(world, page.id, change_set_id))
    if reason is not None:
        return {"pageId": page.id, "canSubmit": False, "reason": reason}
    workflow = assigned_workflow(world, page)
    assert workflow is not None  # block_reason said it has one
    return {"pageId": page.id, "canSubmit": True, "workflowId": workflow.id}


def _previous(world: World, page_id: str, change_set_id: str | None) -> Approval | None:
    if change_set_id is None:
        return latest_approval(world, page_id)
    return latest_in_set(world, page_id, change_set_id)


# --- writes ------------------------------------------------------------------------------


def submit(
    world: World,
    page: Page,
    *,
    change_set_id: str | None,
    account_id: str,
    client_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Submit one page for review; one submit `results[]` entry (§2.6)."""
    checked = preflight(world, page, change_set_id)
    if not checked["canSubmit"]:
        return {"pageId": page.id, "success": False, "reason": checked["reason"]}
    workflow_id = str(checked["workflowId"])
    world.approvals.append(
        Approval(
            id=f"ap-{secrets.token_hex(4)}",
            page_id=page.id,
            workflow_id=workflow_id,
            change_set_id=change_set_id,
            submitted_by=account_id,
            client_id=client_id,
            submitted_version=page.version,
            submitted_at=now,
        )
    )
    # The page-to-workflow mapping is created on first submission (§7).
    page.workflow_id = workflow_id
    return {"pageId": page.id, "success": True, "workflowId": workflow_id}


def submit_change_set(
    world: World, change_set: ChangeSet, *, account_id: str, client_id: str | None, now: datetime
) -> dict[str, Any]:
    """Bulk submit with partial success (§2.6)."""
    ensure_open(change_set)
    results = [
        submit(
            world,
            world.pages[page_id],
            change_set_id=change_set.id,
            account_id=account_id,
            client_id=client_id,
            now=now,
        )
        for page_id in change_set.page_ids
    ]
    submitted = sum(1 for result in results if result["success"])
    return {
        "success": True,
        "submittedCount": submitted,
        "skippedCount": len(results) - submitted,
        "results": results,
    }


def create_change_set(
    world: World,
    space_id: str,
    fields: dict[str, Any],
    *,
    account_id: str,
    now: datetime,
    change_set_id: str | None = None,
) -> ChangeSet:
    """A new change set (§2.3) from the request's fields; its pages must be in its one space."""
    change_set = ChangeSet(
        id=change_set_id or _new_change_set_id(world),
        space_id=space_id,
        title=_title(fields.get("title")),
        summary=_text(fields, "summary", ""),
        reference_url=_reference_url(_text(fields, "referenceUrl", "")),
        page_ids=page_refs(world, space_id, fields.get("pageRefs")),
        created_at=now,
        created_by=account_id,
        updated_at=now,
    )
    world.change_sets[change_set.id] = change_set
    return change_set


def update_change_set(
    world: World, change_set: ChangeSet, fields: dict[str, Any], now: datetime
) -> None:
    """Change the fields given (§2.4); `pageRefs` replaces the whole page list."""
    ensure_open(change_set)
    # Validate everything before changing anything, so a bad field leaves the set as it was.
    title = _title(fields["title"]) if "title" in fields else change_set.title
    summary = _text(fields, "summary", change_set.summary)
    reference_url = _reference_url(_text(fields, "referenceUrl", change_set.reference_url))
    page_ids = (
        page_refs(world, change_set.space_id, fields["pageRefs"])
        if "pageRefs" in fields
        else change_set.page_ids
    )
    change_set.title, change_set.summary = title, summary
    change_set.reference_url, change_set.page_ids = reference_url, page_ids
    change_set.updated_at = now


def _new_change_set_id(world: World) -> str:
    while True:
        candidate = f"cs-{secrets.token_hex(3)}"
        if candidate not in world.change_sets:
            return candidate


def required(fields: dict[str, Any], name: str) -> str:
    """A required string parameter, or the 400 that names it."""
    value = fields.get(name)
    if value is None or value == "":
        raise ApiError(400, f"{name} is required")
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


def _title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "title is required")
    return value.strip()


def _text(fields: dict[str, Any], name: str, default: str) -> str:
    value = fields.get(name, default)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


def _reference_url(value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise ApiError(400, "referenceUrl must be an http(s) URL")
    return value


def archive_change_set(change_set: ChangeSet, now: datetime) -> None:
    """Archive (§2.5): read-only afterwards."""
    ensure_open(change_set)
    change_set.status = "archived"
    change_set.updated_at = now


def edit_page(
    world: World,
    page_id: str,
    *,
    title: str | None = None,
    by: str | None = None,
    at: datetime | None = None,
) -> Page:
    """Someone (account `by`, at `at`) edits the page in Confluence: a new version, which voids
    an approval (§4.1)."""
    page = world.pages.get(page_id)
    if page is None:
        raise AdminError(404, f"Page not found: {page_id}")
    if page.status == "deleted":
        raise AdminError(400, f"Page {page_id} is deleted")
    page.version += 1
    if title:
        page.title = title
    page.edited_by = by or page.edited_by
    page.edited_at = at or page.edited_at
    return page


def ensure_open(change_set: ChangeSet) -> None:
    if change_set.status == "archived":
        raise ApiError(400, f"Change set {change_set.id} is archived and read-only")


def page_refs(world: World, space_id: str, refs: Any) -> list[str]:
    """Validate `pageRefs` (§2.3): a non-empty list of {"pageId"} in the change set's space."""
    if not isinstance(refs, list) or not refs:
        raise ApiError(400, 'pageRefs must be a non-empty array of {"pageId": string}')
    page_ids: list[str] = []
    for ref in refs:
        page_id = ref.get("pageId") if isinstance(ref, dict) else None
        if not isinstance(page_id, str) or not page_id:
            raise ApiError(400, "each pageRefs entry needs a string pageId")
        page = world.pages.get(page_id)
        if page is None:
            raise ApiError(400, f"Page not found: {page_id}")
        if page.space_id != space_id:
            raise ApiError(400, f"Page {page_id} is not in space {space_id}")
        if page_id in page_ids:
            raise ApiError(400, f"Page {page_id} appears more than once in pageRefs")
        page_ids.append(page_id)
    return page_ids


def decide(
    world: World,
    page_id: str,
    *,
    account_id: str,
    outcome: Literal["approved", "rejected"],
    comment: str,
    now: datetime,
) -> Approval:
    """A reviewer's decision in the Confluence UI (no API exists for it, §2.10)."""
    page = world.pages.get(page_id)
    approval = latest_approval(world, page_id)
    if page is None or approval is None or approval.status != "pending":
        raise AdminError(400, f"Page {page_id} has no pending approval")
    step = world.workflows[approval.workflow_id].steps[approval.step]
    if account_id not in step.approvers:
        raise AdminError(
            403, f"{account_id} is not an approver on step {approval.step + 1} of this workflow"
        )
    if any(d.account_id == account_id and d.step == approval.step for d in approval.decisions):
        raise AdminError(400, f"{account_id} has already decided on this step")
    low, high = REJECT_COMMENT_LENGTH
    if outcome == "rejected" and not low <= len(comment.strip()) <= high:
        raise AdminError(400, f"a rejection needs feedback of {low}-{high} characters")
    approval.decisions.append(
        Decision(
            account_id=account_id,
            step=approval.step,
            outcome=outcome,
            comment=comment,
            version=page.version,
            at=now,
        )
    )
    if outcome == "rejected":
        approval.status = "rejected"
        approval.decided_at = now
        return approval
    approvers_done = {d.account_id for d in approval.decisions if d.step == approval.step}
    if step.mode == "any" or approvers_done >= set(step.approvers):
        approval.step += 1
        if approval.step == len(world.workflows[approval.workflow_id].steps):
            # The approval covers what the final approver saw.
            approval.status = "approved"
            approval.approved_at_version = page.version
            approval.decided_at = now
    return approval
