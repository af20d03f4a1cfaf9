"""The world's index of each page's submissions agrees with its list of approvals."""

from __future__ import annotations

from datetime import UTC, datetime

from emulators.approvalflow.models import Approval, World
from emulators.approvalflow.seed import seed_world

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def by_scan(world: World, page_id: str) -> list[Approval]:
    return [a for a in world.approvals if a.page_id == page_id]


def submission(page_id: str, n: int) -> Approval:
    return Approval(
        id=f"ap-test{n}",
        page_id=page_id,
        workflow_id="wf-test",
        change_set_id=None,
        submitted_by="someone",
        client_id=None,
        submitted_version=1,
        submitted_at=NOW,
    )


def assert_agrees(world: World) -> None:
    pages = {a.page_id for a in world.approvals} | {"no-such-page"}
    for page_id in pages:
        assert world.approvals_of(page_id) == by_scan(world, page_id), page_id


def test_the_index_follows_appends_replacements_and_reloads() -> None:
    world = seed_world(NOW)
    assert world.approvals, "the seed has submissions to index"
    assert_agrees(world)
    page_id = world.approvals[0].page_id
    world.approvals.append(submission(page_id, 1))
    world.approvals.append(submission("a-new-page", 2))
    assert world.approvals_of(page_id)[-1].id == "ap-test1"
    assert [a.id for a in world.approvals_of("a-new-page")] == ["ap-test2"]
    assert_agrees(world)
    world.approvals = world.approvals[:1]  # replaced by a shorter list
    assert_agrees(world)
    world.approvals.clear()
    world.approvals.append(submission(page_id, 3))  # cut and grown back to the same length
    assert_agrees(world)
    reloaded = World.model_validate_json(world.model_dump_json())
    assert "_by_page" not in world.model_dump_json()
    assert_agrees(reloaded)
