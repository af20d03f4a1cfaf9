"""Target snapshots (pages, versions, digest) and submits, against the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, cast

from services.approvalflow import (
    ChangeSetTarget,
    PageTarget,
    submit_target,
    take_snapshot,
)
from services.approvalflow.models import ChangeSet
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import snapshot_digest
from tests.approvalflow.conftest import ALICE_SLACK, Harness


async def test_change_set_snapshot(af: Harness) -> None:
    target = ChangeSetTarget("cs-eng184")
    snapshot = await take_snapshot(af.client, ALICE_SLACK, target)
    assert snapshot.title == "PR-184 Auth docs update" and snapshot.rollup_state == "open"
    assert [(p.page_id, p.version, p.can_submit) for p in snapshot.pages] == [
        ("65601", 7, True),
        ("65602", 3, True),
        ("65603", 12, True),
    ]
    assert {p.workflow_id for p in snapshot.submittable} == {"wf-eng-review"}
    # The digest is the documented canonical form, hashed.
    canonical = json.dumps(
        {
            "format": 1,
            "id": "cs-eng184",
            "kind": "change_set",
            "pages": [["65601", 7], ["65602", 3], ["65603", 12]],
            "title": "PR-184 Auth docs update",
        },
        separators=(",", ":"),
    )
    assert snapshot.digest == hashlib.sha256(canonical.encode()).hexdigest()

    again = await take_snapshot(af.client, ALICE_SLACK, target)
    assert again == snapshot and again.same_content(snapshot)

    af.state.edit_page("65602")  # someone edits a page between request and signature
    edited = await take_snapshot(af.client, ALICE_SLACK, target)
    assert not edited.same_content(snapshot)
    assert [p.version for p in edited.pages] == [7, 4, 12]


async def test_snapshot_shows_blocked_pages_and_reasons(af: Harness) -> None:
    snapshot = await take_snapshot(af.client, ALICE_SLACK, ChangeSetTarget("cs-qms033"))
    assert [p.page_id for p in snapshot.submittable] == ["65706"]
    assert {p.page_id: p.reason for p in snapshot.blocked}["65708"] == (
        "Page already has a pending approval"
    )


async def test_archived_change_set_is_not_preflighted(af: Harness) -> None:
    snapshot = await take_snapshot(af.client, ALICE_SLACK, ChangeSetTarget("cs-eng150"))
    assert snapshot.archived and snapshot.rollup_state == "all_approved"
    assert [(p.page_id, p.version, p.can_submit) for p in snapshot.pages] == [("65610", 2, None)]
    assert af.state.calls_to("preflight_change_set") == []


class _DetailAfterPreflight:
    """The sandbox's client, whose detail answers only once a preflight has been asked for:
    a snapshot that asks for them one after the other never gets its detail."""

    def __init__(self, api: ApprovalFlowApi) -> None:
        self._api = api
        self._preflight_asked = asyncio.Event()

    async def change_set_detail(self, user_id: str, change_set_id: str) -> ChangeSet:
        await asyncio.wait_for(self._preflight_asked.wait(), timeout=5)
        return await self._api.change_set_detail(user_id, change_set_id)

    async def preflight_change_set(self, user_id: str, change_set_id: str) -> Any:
        self._preflight_asked.set()
        return await self._api.preflight_change_set(user_id, change_set_id)


async def test_an_open_set_is_read_and_preflighted_at_once(af: Harness) -> None:
    target = ChangeSetTarget("cs-eng184")
    one_by_one = await take_snapshot(af.client, ALICE_SLACK, target)
    api = cast(ApprovalFlowApi, _DetailAfterPreflight(af.client))
    at_once = await take_snapshot(api, ALICE_SLACK, target, expect_open=True)
    assert at_once == one_by_one


async def test_a_set_archived_since_it_was_seen_open_is_snapshotted_as_archived(
    af: Harness,
) -> None:
    af.state.archive_change_set("cs-eng184")
    target = ChangeSetTarget("cs-eng184")
    snapshot = await take_snapshot(af.client, ALICE_SLACK, target, expect_open=True)
    # Its preflight was refused (an archived set is read-only); the snapshot does not need it.
    assert [c.status for c in af.state.calls_to("preflight_change_set")] == [400]
    assert snapshot.archived and snapshot.submittable == ()
    assert snapshot == await take_snapshot(af.client, ALICE_SLACK, target)


async def test_page_snapshot(af: Harness) -> None:
    target = PageTarget("65611", space_key="ENG")
    snapshot = await take_snapshot(af.client, ALICE_SLACK, target)
    [page] = snapshot.pages
    assert (page.page_id, page.can_submit, page.workflow_id) == ("65611", True, "wf-eng-review")
    # The single-page preflight carries no version (undocumented; the sandbox sends none).
    assert page.version is None and snapshot.title is None
    assert snapshot.digest == snapshot_digest(PageTarget("65611"), None, [("65611", None)])


def test_digest_ignores_page_order_but_not_versions_titles_or_kind() -> None:
    target = ChangeSetTarget("cs-1")
    base = snapshot_digest(target, "T", [("1", 1), ("2", 5)])
    assert snapshot_digest(target, "T", [("2", 5), ("1", 1)]) == base
    assert snapshot_digest(target, "T", [("1", 1), ("2", 6)]) != base
    assert snapshot_digest(target, "T2", [("1", 1), ("2", 5)]) != base
    assert snapshot_digest(ChangeSetTarget("cs-2"), "T", [("1", 1), ("2", 5)]) != base
    assert snapshot_digest(PageTarget("cs-1"), "T", [("1", 1), ("2", 5)]) != base


async def test_submit_target_returns_every_result(af: Harness) -> None:
    submission = await submit_target(af.client, ALICE_SLACK, ChangeSetTarget("cs-qms033"))
    assert submission.partial
    assert [r.page_id for r in submission.submitted] == ["65706"]
    assert len(submission.skipped) == 4 and all(r.reason for r in submission.skipped)

    page = await submit_target(af.client, ALICE_SLACK, PageTarget("65611"))
    assert not page.partial and [r.page_id for r in page.submitted] == ["65611"]
