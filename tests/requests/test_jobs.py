"""The jobs: tracking the review with backoff, expiry, the reminder, and watched spaces."""

from __future__ import annotations

import pytest

from emulators.approvalflow.seed import ALICE, ENG_SPACE
from services.errors import InputError, NotFound, RequestClosed
from services.requests.model import Decision, Index, Policy, Stage, Status, single_stage
from services.requests.policies import PolicyBook
from tests.approvalflow.conftest import ALICE_SLACK
from tests.fakes.audit_log import InMemoryAuditLog
from tests.fakes.request_store import MemoryRequestStore
from tests.refused import refused
from tests.requests.conftest import BOB_SLACK, CHANNEL, World


def next_poll(world: World, request_id: str) -> float:
    assert isinstance(world.store, MemoryRequestStore)
    return (world.store.scheduled(Index.TRACKING)[request_id] - world.clock.now()).total_seconds()


async def test_tracking_follows_the_review_to_all_approved(world: World) -> None:
    request = await world.request()
    await world.approve(request, BOB_SLACK)
    service = world.service
    assert await service.track_due(world.clock.now()) == [], "not due yet"

    world.clock.advance(seconds=60)
    (change,) = await service.track_due(world.clock.now())
    assert (change.previous, change.current) == (None, "in_review")
    assert change.request.status is Status.SUBMITTED
    assert world.publisher.last(request.id).rollup_state == "in_review"
    assert "In review" in world.publisher.notes_for(request.id)[-1]
    assert next_poll(world, request.id) == 60

    # Nothing changes: the polls back off.
    for expected in (120, 240, 480):
        world.clock.advance(seconds=next_poll(world, request.id))
        assert await service.track_due(world.clock.now()) == []
        assert next_poll(world, request.id) == expected

    world.sandbox.approve_page("65601", "bob@example.com")
    world.clock.advance(seconds=480)
    (change,) = await service.track_due(world.clock.now())
    assert (change.previous, change.current) == ("in_review", "partially_approved")
    assert next_poll(world, request.id) == 60, "a change brings the interval back"

    world.sandbox.approve_page("65602", "carol@example.com")
    world.sandbox.approve_page("65603", "bob@example.com")
    world.clock.advance(seconds=60)
    (change,) = await service.track_due(world.clock.now())
    assert (change.previous, change.current) == ("partially_approved", "all_approved")
    closed = await service.get(request.id)
    assert (closed.status, closed.rollup_state) == (Status.CLOSED, "all_approved")
    assert world.publisher.last(request.id) == closed
    assert "Every page is approved" in world.publisher.notes_for(request.id)[-1]
    assert world.publisher.dms[-1][0] == ALICE_SLACK

    polls = world.sandbox.calls_to("change_set_detail", who="bob@example.com")
    assert len(polls) >= 6, "polled with the token of the signer who submitted"
    world.clock.advance(hours=24)
    assert await service.track_due(world.clock.now()) == []
    assert len(world.sandbox.calls_to("change_set_detail")) == len(polls) + 1  # the create
    assert world.audit_actions().count("request.review.changed") == 3


async def test_backoff_is_capped(world: World) -> None:
    request = await world.request()
    await world.approve(request, BOB_SLACK)
    world.clock.advance(seconds=60)
    await world.service.track_due(world.clock.now())
    for _ in range(8):
        world.clock.advance(seconds=next_poll(world, request.id))
        await world.service.track_due(world.clock.now())
    assert next_poll(world, request.id) == 30 * 60


async def test_a_stale_or_rejected_review_ends_tracking(world: World) -> None:
    request = await world.request()
    await world.approve(request, BOB_SLACK)
    for page_id in ("65601", "65602", "65603"):
        world.sandbox.approve_page(page_id, "bob@example.com")
    world.sandbox.edit_page("65602")
    world.clock.advance(seconds=60)
    (change,) = await world.service.track_due(world.clock.now())
    assert change.current == "stale" and change.request.status is Status.CLOSED
    note = world.publisher.notes_for(request.id)[-1]
    assert "voids that approval" in note and "/approvals request cs-eng184" in note

    page = await world.request("65611")
    await world.approve(page, BOB_SLACK)
    world.clock.advance(seconds=60)
    (change,) = await world.service.track_due(world.clock.now())
    assert change.current == "in_review", "a page's state is read from its preflight"
    world.sandbox.reject_page("65611", "bob@example.com")
    world.clock.advance(seconds=60)
    (change,) = await world.service.track_due(world.clock.now())
    assert (change.previous, change.current) == ("in_review", "has_rejections")
    assert (await world.service.get(page.id)).status is Status.CLOSED


async def test_a_single_page_tracks_to_approved(world: World) -> None:
    page = await world.request("65611")
    await world.approve(page, BOB_SLACK)
    world.clock.advance(seconds=60)
    await world.service.track_due(world.clock.now())
    world.sandbox.approve_page("65611", "bob@example.com")
    world.clock.advance(seconds=60)
    (change,) = await world.service.track_due(world.clock.now())
    assert (change.current, change.request.status) == ("all_approved", Status.CLOSED)
    assert world.sandbox.calls_to("preflight_page", who="bob@example.com")


async def test_a_reminder_once_then_expiry(world: World) -> None:
    request = await world.request()
    service = world.service
    world.clock.advance(hours=23, minutes=59)
    assert await service.remind_due(world.clock.now()) == []
    world.clock.advance(minutes=1)
    (reminded,) = await service.remind_due(world.clock.now())
    assert reminded.id == request.id
    assert "still waiting for a signature" in world.publisher.notes_for(request.id)[-1]
    world.clock.advance(hours=1)
    assert await service.remind_due(world.clock.now()) == [], "once"
    assert len(world.publisher.notes_for(request.id)) == 1

    world.clock.advance(hours=46, minutes=59)
    assert await service.expire_due(world.clock.now()) == []
    world.clock.advance(minutes=1)
    (expired,) = await service.expire_due(world.clock.now())
    assert expired.status is Status.EXPIRED
    assert world.publisher.last(request.id).status is Status.EXPIRED
    assert world.publisher.dms[-1][:2] == (ALICE_SLACK, request.id)
    assert "expired" in world.publisher.dms[-1][2]
    assert await service.expire_due(world.clock.now()) == [], "once"
    assert "request.expired" in world.audit_actions()
    with refused(RequestClosed, match="expired"):
        await world.approve(request, BOB_SLACK)
    assert await service.pending_for(BOB_SLACK) == []


async def test_a_rejected_request_is_neither_reminded_nor_expired(world: World) -> None:
    request = await world.request()
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.REJECT)
    # A decision that reaches the service as plain text is still the decision it names.
    await world.service.sign(
        request.id,
        BOB_SLACK,
        "reject",  # type: ignore[arg-type]
        world.code(BOB_SLACK),
        "Not ready: the runbook link is broken.",
        form.snapshot.digest,
    )
    world.clock.advance(hours=100)
    assert await world.service.remind_due(world.clock.now()) == []
    assert await world.service.expire_due(world.clock.now()) == []
    assert (await world.service.get(request.id)).status is Status.REJECTED


async def test_a_watched_space_posts_each_new_open_change_set_once(world: World) -> None:
    service = world.service
    with refused(InputError, match="not a space key or id"):
        await service.watch(ALICE_SLACK, "ENG docs", CHANNEL)
    with refused(NotFound, match="no Confluence space with the key NOPE"):
        await service.watch(ALICE_SLACK, "nope", CHANNEL)
    with pytest.raises(NotFound):
        await service.watch(ALICE_SLACK, "99999", CHANNEL)
    await service.watch(ALICE_SLACK, ENG_SPACE, "C0WATCH")
    assert "request.watch.added" in world.audit_actions()

    (first,) = await service.poll_watched(world.clock.now())
    assert first.target.id == "cs-eng184", "the one open change set (the others are in review)"
    assert (first.requester, first.channel, first.source) == (
        ALICE_SLACK,
        "C0WATCH",
        f"watch:{ENG_SPACE}",
    )
    assert first.reviewers == () and first.summary == "Auth docs for the new SSO flow"
    assert world.sandbox.calls_to("list_change_sets", who="alice@example.com")
    assert await service.poll_watched(world.clock.now()) == [], "each change set once"

    saved = await world.af.client.create_change_set(
        ALICE_SLACK, space_id=ENG_SPACE, title="PR-220 ADR refresh", page_ids=["65611"]
    )
    (second,) = await service.poll_watched(world.clock.now())
    assert second.target.id == saved.saved_id
    assert await service.poll_watched(world.clock.now()) == []
    assert len([r for r in world.publisher.published if r.source.startswith("watch:")]) == 2
    created = world.sandbox.calls_to("create_change_set")
    assert created[0].account_id == ALICE

    await service.unwatch(ALICE_SLACK, ENG_SPACE)
    with refused(NotFound, match="not watched"):
        await service.unwatch(ALICE_SLACK, ENG_SPACE)
    await world.af.client.create_change_set(
        ALICE_SLACK, space_id=ENG_SPACE, title="PR-221", page_ids=["65610"]
    )
    assert await service.poll_watched(world.clock.now()) == []


async def test_concurrent_watch_polls_post_once(redis_world: World) -> None:
    import asyncio

    world = redis_world
    await world.service.watch(ALICE_SLACK, ENG_SPACE, "C0WATCH")
    other = world.make_service()
    posted = await asyncio.gather(
        world.service.poll_watched(world.clock.now()), other.poll_watched(world.clock.now())
    )
    assert sorted(len(p) for p in posted) == [0, 1]


async def test_a_watched_space_posts_with_its_policy(world: World) -> None:
    two = Policy(
        "two",
        (
            Stage("Review", "I reviewed these pages", required=2),
            Stage("QA", "I approve submitting them", signers=(BOB_SLACK,)),
        ),
    )
    book = PolicyBook({"two": two, "one": single_stage((), ())}, "one", "test")
    service = world.make_service(policies=book)
    with refused(InputError, match="no signing policy “nope”"):
        await service.watch(ALICE_SLACK, ENG_SPACE, "C0WATCH", "nope")
    assert await service.poll_watched(world.clock.now()) == [], "an unknown policy watches nothing"
    await service.watch(ALICE_SLACK, ENG_SPACE, "C0WATCH", "two")
    (posted,) = await service.poll_watched(world.clock.now())
    assert posted.policy == two and posted.open_stage == 0
    assert isinstance(world.audit_log, InMemoryAuditLog)
    [added] = world.audit_log.find("request.watch.added")
    assert added.details["policy"] == "two"
