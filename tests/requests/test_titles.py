"""Titles and versions from Confluence in the requests service: one bulk read per request,
batched at Confluence's 250-id limit, kept with the request (also across a store round trip)."""

from __future__ import annotations

import pytest

from emulators.approvalflow.models import Page
from emulators.approvalflow.seed import DOCS_SPACE
from services.errors import UpstreamUnavailable
from services.requests.model import Decision
from tests.approvalflow.conftest import ALICE_SLACK
from tests.requests.conftest import BOB_SLACK, World


async def test_a_change_set_of_300_pages_needs_two_bulk_calls(redis_world: World) -> None:
    world = redis_world
    state = world.sandbox
    ids = [str(80000 + n) for n in range(300)]
    for n, page_id in enumerate(ids):
        state.world.pages[page_id] = Page(
            id=page_id, space_id=DOCS_SPACE, title=f"Chapter {n + 1}", version=n % 7 + 1
        )
    created = state.create_change_set(
        {"spaceId": DOCS_SPACE, "title": "Manual 2.0", "pageRefs": [{"pageId": i} for i in ids]},
        account_id=state.user("alice@example.com").account_id,
    )
    state.clear_calls()
    request = await world.request(created["changeSet"]["id"])
    calls = state.calls_to("confluence_pages")
    assert [len(call.params["id"].split(",")) for call in calls] == [250, 50]
    assert len(state.calls_to("confluence_spaces")) == 1
    assert (request.snapshot.space_key, request.snapshot.space_name) == (
        "DOCS",
        "Product Documentation",
    )

    stored = await world.service.get(request.id)  # read back from Redis
    titles = {page.page_id: page.title for page in stored.snapshot.pages}
    assert titles["80000"] == "Chapter 1" and titles["80299"] == "Chapter 300"
    assert stored.snapshot.pages[0].edited_at is None  # pages made without an editor

    state.clear_calls()
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    assert form.snapshot.pages[5].title == "Chapter 6"
    assert state.calls_to("confluence_pages") == []  # titles kept with the request


async def test_an_edited_page_is_read_again_and_its_change_shown(world: World) -> None:
    request = await world.request("cs-eng184")
    world.sandbox.edit_page("65602", title="OAuth client setup (v2)", by="carol@example.com")
    world.sandbox.clear_calls()
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    [call] = world.sandbox.calls_to("confluence_pages")
    assert call.params["id"] == "65602"  # only the page whose version moved
    page = next(p for p in form.snapshot.pages if p.page_id == "65602")
    assert (page.title, page.version) == ("OAuth client setup (v2)", 4)
    [change] = form.changes
    assert (change.page_id, change.since, change.current) == ("65602", 3, 4)
    assert change.edited_by == world.sandbox.user("carol@example.com").account_id
    assert change.editor is None  # Carol has no link here
    assert form.changed_since_request


async def test_an_approved_page_edited_since_shows_changes_since_the_approval(
    world: World,
) -> None:
    # PR-170: the runbook (65608) was approved at v14 and edited by Bob since (v15).
    world.sandbox.world.change_sets["cs-eng170"].page_ids.append("65611")
    request = await world.request("cs-eng170", reviewers=(BOB_SLACK,), requester=ALICE_SLACK)
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    [change] = form.changes
    assert (change.page_id, change.since, change.current, change.editor) == (
        "65608",
        14,
        15,
        BOB_SLACK,
    )


async def test_confluence_down_a_change_set_posts_without_titles_a_page_does_not(
    world: World,
) -> None:
    world.sandbox.inject_fault("confluence_pages", status=503, count=None)
    request = await world.request("cs-eng184")
    assert [page.title for page in request.snapshot.pages] == [None, None, None]
    assert not any(page.restricted for page in request.snapshot.pages)
    with pytest.raises(UpstreamUnavailable):
        # A single page's version is what would be signed: no Confluence, no request.
        await world.request("65611")
    world.sandbox.clear_faults()
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    # Read now with the signer's token, since the request holds none.
    assert form.snapshot.pages[0].title == "Authentication overview"
