"""What a request signs: a change set or a page, its snapshot (pages, versions, hash), its submit.

The snapshot is taken from change set detail and preflight (a page: preflight only); Confluence
adds titles, the space and a single page's version (services/confluence/snapshots.py). Its
`digest` is a SHA-256 over what would be signed: the target, a change set's title and each page
id with its version, in a canonical JSON form. Preflight outcomes and page titles are kept
beside it but not hashed: a page becoming blocked changes what can be submitted, not what was
approved, and a page's title cannot change without a new version.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.approvalflow.models import ChangeSet, PagePreflight, PageSubmitResult
from services.approvalflow.ports import ApprovalFlowApi
from services.jsontext import sorted_compact

DIGEST_FORMAT = 1  # part of the hashed text, so a future format can never collide with this one


@dataclass(frozen=True)
class ChangeSetTarget:
    change_set_id: str
    kind: Literal["change_set"] = "change_set"

    @property
    def id(self) -> str:
        return self.change_set_id

    def __str__(self) -> str:
        return f"change set {self.change_set_id}"


@dataclass(frozen=True)
class PageTarget:
    page_id: str
    space_key: str | None = None  # from a pasted URL; shown, never hashed
    kind: Literal["page"] = "page"

    @property
    def id(self) -> str:
        return self.page_id

    def __str__(self) -> str:
        return f"page {self.page_id}"


Target = ChangeSetTarget | PageTarget


@dataclass(frozen=True)
class PageSnapshot:
    """One page as it stood: its version (None where the API does not say) and its preflight."""

    page_id: str
    version: int | None
    can_submit: bool | None = None  # None: not preflighted (an archived change set)
    workflow_id: str | None = None
    reason: str | None = None
    approved_at_version: int | None = None
    is_stale: bool | None = None
    # From Confluence, read with the person's own token; `restricted`: Confluence did not show
    # the page to them. With neither a title nor `restricted`, Confluence was not asked.
    title: str | None = None
    restricted: bool = False
    edited_at: datetime | None = None  # when the current version was made (UTC)
    edited_by: str | None = None  # the Atlassian account that made it

    @property
    def name(self) -> str:
        """What to call the page in a sentence: its title, or why there is none."""
        if self.title:
            return self.title
        return f"restricted page {self.page_id}" if self.restricted else f"page {self.page_id}"


@dataclass(frozen=True)
class TargetSnapshot:
    """A target at one moment: title, pages with versions and eligibility, and the digest."""

    target: Target
    title: str | None
    pages: tuple[PageSnapshot, ...]
    digest: str
    rollup_state: str | None = None
    archived: bool = False
    space_key: str | None = None  # from Confluence, shown only
    space_name: str | None = None

    @property
    def submittable(self) -> tuple[PageSnapshot, ...]:
        return tuple(page for page in self.pages if page.can_submit)

    @property
    def blocked(self) -> tuple[PageSnapshot, ...]:
        return tuple(page for page in self.pages if page.can_submit is False)

    def same_content(self, other: TargetSnapshot) -> bool:
        """Whether `other` would sign exactly what this one would (target, title, versions)."""
        return self.digest == other.digest


@dataclass(frozen=True)
class Submission:
    """A submit's outcome, whole: every page submitted or skipped, with the reasons."""

    target: Target
    results: tuple[PageSubmitResult, ...]

    @property
    def submitted(self) -> tuple[PageSubmitResult, ...]:
        return tuple(result for result in self.results if result.success)

    @property
    def skipped(self) -> tuple[PageSubmitResult, ...]:
        return tuple(result for result in self.results if not result.success)

    @property
    def partial(self) -> bool:
        return bool(self.submitted) and bool(self.skipped)


def snapshot_digest(target: Target, title: str | None, pages: list[tuple[str, int | None]]) -> str:
    """SHA-256 (hex) of the canonical form of what would be signed; page order does not count
    (a change set's page list is a set of pages), versions and the title do."""
    canonical = sorted_compact(
        {
            "format": DIGEST_FORMAT,
            "kind": target.kind,
            "id": target.id,
            "title": title or "",
            "pages": sorted([page_id, version] for page_id, version in pages),
        }
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def take_snapshot(
    api: ApprovalFlowApi,
    user_id: str,
    target: Target,
    detail: ChangeSet | None = None,
    *,
    expect_open: bool = False,
) -> TargetSnapshot:
    """The target as `user_id` sees it now (their token, their scopes); `detail`: the change
    set's detail as just read with the same token, so it is not read twice. `expect_open`: the
    set was open when last seen, so its preflight is asked for alongside its detail (one round
    trip less for a person waiting) and set aside if the detail says it was archived since."""
    if isinstance(target, ChangeSetTarget) and detail is None and expect_open:
        return await _open_change_set(api, user_id, target)
    if isinstance(target, PageTarget):
        checked = await api.preflight_page(user_id, target.page_id)
        page = _from_preflight(checked)
        return TargetSnapshot(
            target=target,
            title=None,  # the API has no page read; the title is not ApprovalFlow's to give
            pages=(page,),
            digest=snapshot_digest(target, None, [(page.page_id, page.version)]),
        )
    change_set = detail or await api.change_set_detail(user_id, target.change_set_id)
    preflight: dict[str, PagePreflight] = {}
    if not change_set.archived:  # an archived set is read-only and refuses a preflight
        checked_set = await api.preflight_change_set(user_id, target.change_set_id)
        preflight = {result.page_id: result for result in checked_set.results}
    return _change_set_snapshot(target, change_set, preflight)


async def _open_change_set(
    api: ApprovalFlowApi, user_id: str, target: ChangeSetTarget
) -> TargetSnapshot:
    detail, checked = await asyncio.gather(
        api.change_set_detail(user_id, target.change_set_id),
        api.preflight_change_set(user_id, target.change_set_id),
        return_exceptions=True,
    )
    if isinstance(detail, BaseException):
        raise detail
    if detail.archived:
        return _change_set_snapshot(target, detail, {})  # its preflight (refused) is moot
    if isinstance(checked, BaseException):
        raise checked
    return _change_set_snapshot(
        target, detail, {result.page_id: result for result in checked.results}
    )


def _change_set_snapshot(
    target: ChangeSetTarget, change_set: ChangeSet, preflight: dict[str, PagePreflight]
) -> TargetSnapshot:
    pages = tuple(
        _page(change_set, page_id, preflight.get(page_id)) for page_id in _ids(change_set)
    )
    return TargetSnapshot(
        target=target,
        title=change_set.title,
        pages=pages,
        digest=snapshot_digest(
            target, change_set.title, [(page.page_id, page.version) for page in pages]
        ),
        rollup_state=change_set.rollup_state,
        archived=change_set.archived,
    )


async def submit_target(api: ApprovalFlowApi, user_id: str, target: Target) -> Submission:
    """Submit a change set (every eligible page) or one page, as `user_id`."""
    if isinstance(target, PageTarget):
        result = await api.submit_page(user_id, target.page_id)
        return Submission(target=target, results=(result,))
    submission = await api.submit_change_set(user_id, target.change_set_id)
    return Submission(target=target, results=submission.results)


def _ids(change_set: ChangeSet) -> list[str]:
    seen: dict[str, None] = {}
    for page_id in change_set.page_ids:
        seen.setdefault(page_id, None)  # keep the set's order, drop repeats
    return list(seen)


def _page(change_set: ChangeSet, page_id: str, checked: PagePreflight | None) -> PageSnapshot:
    ref = next(ref for ref in change_set.page_refs if ref.page_id == page_id)
    return PageSnapshot(
        page_id=page_id,
        version=ref.current_page_version,
        can_submit=checked.can_submit if checked is not None else None,
        workflow_id=checked.workflow_id if checked is not None else None,
        reason=checked.reason if checked is not None else None,
        approved_at_version=ref.approved_at_version,
        is_stale=ref.is_stale,
    )


def _from_preflight(checked: PagePreflight) -> PageSnapshot:
    return PageSnapshot(
        page_id=checked.page_id,
        version=checked.current_page_version,
        can_submit=checked.can_submit,
        workflow_id=checked.workflow_id,
        reason=checked.reason,
    )
