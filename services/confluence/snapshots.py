"""What Confluence adds to a target snapshot: page titles, the space, and a page's version.

Read once per request with the acting person's token, in one bulk call (batched above 250
ids), and kept with the request: a later snapshot of the same request (`known`) asks
Confluence only about pages it has not seen at that version, so a signature of an unchanged
change set costs no Confluence call. A single page's version is always read: it is what the
signature is tied to. A page Confluence does not show the person is marked `restricted`.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from services.approvalflow.targets import (
    PageSnapshot,
    PageTarget,
    TargetSnapshot,
    snapshot_digest,
)
from services.confluence.ports import ConfluenceApi, ConfluencePage
from services.errors import ApprovalsError, LinkError

log = logging.getLogger(__name__)


async def with_confluence(
    snapshot: TargetSnapshot,
    confluence: ConfluenceApi,
    user_id: str,
    *,
    known: TargetSnapshot | None = None,
) -> TargetSnapshot:
    """`snapshot` with titles, editors and the space from Confluence (or from `known` where it
    already holds them at the same version); a page target's version comes from Confluence.

    For a change set, Confluence failing (a link without the scope, an outage) leaves the
    pages as `known` has them: titles are shown, never needed. For a page target it raises,
    since the version it would sign cannot be pinned without Confluence."""
    single = isinstance(snapshot.target, PageTarget)
    before = {page.page_id: page for page in known.pages} if known is not None else {}
    wanted = [
        page.page_id
        for page in snapshot.pages
        if single or not _still_known(page, before.get(page.page_id))
    ]
    fetched: dict[str, ConfluencePage] = {}
    if wanted:
        try:
            fetched = await confluence.pages(user_id, wanted)
        except ApprovalsError as exc:
            if single:
                raise
            level = logging.INFO if isinstance(exc, LinkError) else logging.WARNING
            log.log(level, "page titles not read", extra={"user": user_id, "error": str(exc)})
            wanted = []
    asked = set(wanted)
    pages = tuple(
        _page(
            page, fetched.get(page.page_id), page.page_id in asked, before.get(page.page_id), single
        )
        for page in snapshot.pages
    )
    title = snapshot.title
    if single:
        title = pages[0].title
    space_key, space_name = await _space(snapshot, known, fetched, confluence, user_id)
    return replace(
        snapshot,
        title=title,
        pages=pages,
        space_key=space_key,
        space_name=space_name,
        digest=snapshot_digest(
            snapshot.target,
            None if single else snapshot.title,
            [(page.page_id, page.version) for page in pages],
        ),
    )


def _still_known(page: PageSnapshot, before: PageSnapshot | None) -> bool:
    """Whether what was read of the page earlier still holds: same version, and read then."""
    if before is None or (before.title is None and not before.restricted):
        return False
    return before.version == page.version


def _page(
    page: PageSnapshot,
    found: ConfluencePage | None,
    asked: bool,
    before: PageSnapshot | None,
    single: bool,
) -> PageSnapshot:
    if found is not None:
        return replace(
            page,
            title=found.title,
            restricted=False,
            # A change set's versions are ApprovalFlow's (what it tracks approvals against);
            # a single page's preflight documents none, so Confluence's is the one signed.
            version=found.version if single or page.version is None else page.version,
            edited_at=found.edited_at,
            edited_by=found.edited_by,
        )
    if asked:
        return replace(page, title=None, restricted=True)
    if before is not None:
        # Who made a version is only known for the version read: an edit since then is
        # somebody's, but not necessarily the earlier editor's.
        same = before.version == page.version
        return replace(
            page,
            title=before.title,
            restricted=before.restricted,
            edited_at=before.edited_at if same else None,
            edited_by=before.edited_by if same else None,
        )
    return page


async def _space(
    snapshot: TargetSnapshot,
    known: TargetSnapshot | None,
    fetched: dict[str, ConfluencePage],
    confluence: ConfluenceApi,
    user_id: str,
) -> tuple[str | None, str | None]:
    if known is not None and known.space_key:
        return known.space_key, known.space_name
    space_ids = sorted({page.space_id for page in fetched.values() if page.space_id})
    if not space_ids:
        return snapshot.space_key, snapshot.space_name
    try:
        spaces = await confluence.spaces_by_id(user_id, space_ids[:1])
    except ApprovalsError as exc:
        log.info("space not read", extra={"user": user_id, "error": str(exc)})
        return snapshot.space_key, snapshot.space_name
    space = spaces.get(space_ids[0])
    return (space.key, space.name) if space is not None else (None, None)
