"""Contract of the approval request store, on Redis and on the in-memory fake: same rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.stores.requests import RedisRequestStore
from services.approvalflow.targets import ChangeSetTarget, PageSnapshot, PageTarget, TargetSnapshot
from services.requests.model import (
    ApprovalRequest,
    Decision,
    PageOutcome,
    Signature,
    Signer,
    Status,
)
from services.requests.store import Claim, RequestStore, SubmitAttempt, Watch
from tests.contract.conftest import Backend
from tests.fakes.request_store import MemoryRequestStore

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ALICE = Signer("U0ALICE", "acc-alice", "Alice Anders")
BOB = Signer("U0BOB", "acc-bob", "Bob Baker")
CAROL = Signer("U0CAROL", "acc-carol", "Carol Chen")


def make_store(backend: Backend) -> RequestStore:
    if backend.redis is not None:
        return RedisRequestStore(backend.redis, backend.keys)
    return MemoryRequestStore()


def make_request(request_id: str = "AR-7K3Q", **changes: object) -> ApprovalRequest:
    target = ChangeSetTarget("cs-eng184")
    snapshot = TargetSnapshot(
        target=target,
        title="PR-184 Auth docs update",
        pages=(
            PageSnapshot("65601", 7, True, "wf-eng-review", None, None, False),
            PageSnapshot("65602", None, False, None, "Page already has a pending approval"),
        ),
        digest="d" * 64,
        rollup_state="open",
    )
    request = ApprovalRequest(
        id=request_id,
        target=target,
        title="PR-184 Auth docs update",
        requester="U0REQ",
        reviewers=("U0BOB", "U0CAROL"),
        reviewer_groups=("S0DOCS",),
        channel="C0DOCS",
        created_at=T0,
        expires_at=T0 + 72 * HOUR,
        snapshot=snapshot,
        summary="Auth docs for the new SSO flow",
        reference_url="https://git.example.com/docs/pull/184",
        source="watch:98301",
        extra={"note": "ünïcode ✓"},
    )
    return request.with_changes(**changes)


def signature(
    signer: Signer, decision: Decision = Decision.APPROVE, at: datetime = T0
) -> Signature:
    return Signature(
        signer=signer,
        decision=decision,
        meaning=f"I {decision.value} submitting this page for review",
        comment="looks right" if decision is Decision.APPROVE else "x" * 25,
        signed_at=at + timedelta(microseconds=123456),
        snapshot_digest="d" * 64,
    )


def attempt(signer: Signer, attempt_id: str = "att-1") -> SubmitAttempt:
    return SubmitAttempt(attempt_id, signer, T0, ("65601",))


async def approve(store: RequestStore, signer: Signer = BOB, attempt_id: str = "att-1") -> Claim:
    return await store.begin_approval(
        "AR-7K3Q", signature(signer), attempt(signer, attempt_id), T0 + timedelta(minutes=2)
    )


async def test_a_request_reads_back_whole(backend: Backend) -> None:
    store = make_store(backend)
    request = make_request()
    assert await store.create(request, T0 + 24 * HOUR)
    assert await store.get("AR-7K3Q") == request
    assert not await store.create(make_request(title="other"), None), "an id is taken once"
    assert await store.get("AR-7K3Q") == request
    assert await store.get("AR-NONE") is None
    page = make_request("AR-2222", target=PageTarget("65611", "ENG"))
    assert await store.create(page, None)
    assert await store.get_many(["AR-2222", "AR-NONE", "AR-7K3Q"]) == [page, request]
    assert await store.get_many([]) == []
    await store.set_message("AR-7K3Q", "1700000000.000100")
    stored = await store.get("AR-7K3Q")
    assert stored is not None and stored.message_ts == "1700000000.000100"
    assert await store.pending_ids() == ["AR-2222", "AR-7K3Q"], "by expiry, then id"


async def test_signing_slot(backend: Backend) -> None:
    store = make_store(backend)
    assert (await store.open_signing("AR-7K3Q", "U0BOB", T0, T0 + HOUR)).claim is Claim.MISSING
    await store.create(make_request(), None)
    first = await store.open_signing("AR-7K3Q", "U0BOB", T0, T0 + timedelta(seconds=60))
    assert first.claim is Claim.OK and first.request == make_request()
    again = await store.open_signing("AR-7K3Q", "U0BOB", T0, T0 + timedelta(seconds=60))
    assert again.claim is Claim.BUSY, "a second window of the same person waits"
    other = await store.open_signing("AR-7K3Q", "U0CAROL", T0, T0 + timedelta(seconds=60))
    assert other.claim is Claim.OK, "slots are per person"
    later = T0 + timedelta(seconds=61)
    assert (await store.open_signing("AR-7K3Q", "U0BOB", later, later)).claim is Claim.OK
    await store.release_signing("AR-7K3Q", "U0CAROL")
    assert (await store.open_signing("AR-7K3Q", "U0CAROL", T0, T0)).claim is Claim.OK
    assert await store.get("AR-7K3Q") == make_request(), "slots never show in the request"


async def test_an_approval_claims_the_submit_once(backend: Backend) -> None:
    store = make_store(backend)
    await store.create(make_request(), None)
    await store.open_signing("AR-7K3Q", "U0BOB", T0, T0 + HOUR)
    assert await approve(store, BOB) is Claim.OK
    stored = await store.get("AR-7K3Q")
    assert stored is not None
    assert stored.status is Status.SUBMITTING
    assert stored.signatures == (signature(BOB),)
    assert await approve(store, BOB, "att-2") is Claim.SIGNED
    assert await approve(store, CAROL, "att-3") is Claim.CLOSED
    assert (await store.open_signing("AR-7K3Q", "U0BOB", T0, T0)).claim is Claim.SIGNED
    opened = await store.open_signing("AR-7K3Q", "U0CAROL", T0, T0)
    assert opened.claim is Claim.CLOSED and opened.request == stored
    assert await store.record_rejection("AR-7K3Q", signature(CAROL, Decision.REJECT)) is (
        Claim.CLOSED
    )
    assert await approve(store, BOB, "att-9") is Claim.SIGNED
    assert await store.begin_approval("AR-NONE", signature(BOB), attempt(BOB), T0) is Claim.MISSING
    # The signer's slot went with the signature.
    assert (await store.get("AR-7K3Q")) == stored


async def test_a_rejection_closes(backend: Backend) -> None:
    store = make_store(backend)
    await store.create(make_request(), T0 + HOUR)
    rejection = signature(CAROL, Decision.REJECT)
    assert await store.record_rejection("AR-7K3Q", rejection) is Claim.OK
    stored = await store.get("AR-7K3Q")
    assert stored is not None
    assert (stored.status, stored.signatures) == (Status.REJECTED, (rejection,))
    assert await store.record_rejection("AR-7K3Q", rejection) is Claim.SIGNED
    assert await approve(store, BOB) is Claim.CLOSED
    far = T0 + 1000 * HOUR
    assert await store.due_expiry(far) == []
    assert await store.due_reminders(far) == []
    assert await store.pending_ids() == []


async def test_finish_submit(backend: Backend) -> None:
    store = make_store(backend)
    await store.create(make_request(), T0 + HOUR)
    await approve(store, BOB, "att-1")
    outcomes = [
        PageOutcome("65601", None, True),
        PageOutcome("65602", "OAuth", False, "Page already has a pending approval"),
    ]
    poll_at = T0 + timedelta(minutes=1)
    assert not await store.finish_submit(
        "AR-7K3Q", "att-X", outcomes, poller="U0BOB", poll_at=poll_at, interval_seconds=60
    ), "only the attempt holding the claim finishes"
    assert await store.finish_submit(
        "AR-7K3Q", "att-1", outcomes, poller="U0BOB", poll_at=poll_at, interval_seconds=60
    )
    stored = await store.get("AR-7K3Q")
    assert stored is not None
    assert (stored.status, stored.outcomes, stored.last_error) == (
        Status.SUBMITTED,
        tuple(outcomes),
        None,
    )
    assert stored.signatures == (signature(BOB),)
    assert not await store.finish_submit(
        "AR-7K3Q", "att-1", outcomes, poller="U0BOB", poll_at=poll_at, interval_seconds=60
    ), "finished once"
    assert await store.pending_ids() == []
    assert await store.due_expiry(T0 + 1000 * HOUR) == []
    assert await store.due_reminders(T0 + 1000 * HOUR) == []
    assert await store.stuck_submits(T0 + 1000 * HOUR) == []
    assert await store.due_tracking(poll_at - timedelta(seconds=1)) == []
    assert await store.due_tracking(poll_at) == ["AR-7K3Q"]


async def test_a_failed_submit_goes_back_to_pending_without_its_signature(
    backend: Backend,
) -> None:
    store = make_store(backend)
    await store.create(make_request(), None)
    await approve(store, BOB, "att-1")
    assert await store.note_error("AR-7K3Q", "att-1", "checking")
    assert not await store.note_error("AR-7K3Q", "att-X", "nope")
    assert (await store.get("AR-7K3Q")).last_error == "checking"  # type: ignore[union-attr]
    assert not await store.fail_submit("AR-7K3Q", "att-X", "boom")
    assert await store.fail_submit("AR-7K3Q", "att-1", "ApprovalFlow failed (HTTP 500)")
    stored = await store.get("AR-7K3Q")
    assert stored is not None
    assert (stored.status, stored.signatures) == (Status.PENDING, ())
    assert stored.last_error == "ApprovalFlow failed (HTTP 500)"
    assert not await store.fail_submit("AR-7K3Q", "att-1", "again")
    assert await store.stuck_submits(T0 + 1000 * HOUR) == []
    # Signed again by the same person: allowed, and the error goes.
    assert (await store.open_signing("AR-7K3Q", "U0BOB", T0, T0 + HOUR)).claim is Claim.OK
    assert await approve(store, BOB, "att-2") is Claim.OK
    assert (await store.get("AR-7K3Q")).last_error is None  # type: ignore[union-attr]


async def test_a_stuck_submit_is_taken_over_once(backend: Backend) -> None:
    store = make_store(backend)
    await store.create(make_request(), None)
    lease_end = T0 + timedelta(minutes=2)
    await approve(store, BOB, "att-1")
    assert await store.stuck_submits(lease_end - timedelta(seconds=1)) == []
    assert await store.stuck_submits(lease_end) == ["AR-7K3Q"]
    early = lease_end - timedelta(seconds=1)
    assert await store.reclaim_submit("AR-7K3Q", early, "att-2", early + HOUR) is None
    taken = await store.reclaim_submit("AR-7K3Q", lease_end, "att-2", lease_end + HOUR)
    assert taken == SubmitAttempt("att-2", BOB, T0, ("65601",))
    assert await store.reclaim_submit("AR-7K3Q", lease_end, "att-3", lease_end) is None
    assert await store.stuck_submits(lease_end) == []
    assert not await store.fail_submit("AR-7K3Q", "att-1", "late"), "the old holder is fenced"
    assert await store.finish_submit(
        "AR-7K3Q", "att-2", [], poller="U0BOB", poll_at=lease_end, interval_seconds=60
    )


async def test_expiry(backend: Backend) -> None:
    store = make_store(backend)
    await store.create(make_request(), None)
    await store.create(make_request("AR-2222", expires_at=T0 + HOUR), None)
    await store.create(make_request("AR-3333", expires_at=T0 + HOUR), None)
    assert await store.due_expiry(T0) == []
    assert await store.due_expiry(T0 + HOUR) == ["AR-2222", "AR-3333"]
    assert not await store.expire("AR-7K3Q", T0 + HOUR), "not yet"
    assert await store.expire("AR-2222", T0 + HOUR)
    assert not await store.expire("AR-2222", T0 + HOUR), "once"
    stored = await store.get("AR-2222")
    assert stored is not None and stored.status is Status.EXPIRED
    assert (await store.open_signing("AR-2222", "U0BOB", T0, T0)).claim is Claim.CLOSED
    # A submit in flight is not expired under it; it stays due until it settles.
    await store.begin_approval("AR-3333", signature(BOB), attempt(BOB), T0 + timedelta(minutes=2))
    assert not await store.expire("AR-3333", T0 + HOUR)
    assert await store.due_expiry(T0 + HOUR) == ["AR-3333"]
    assert await store.fail_submit("AR-3333", "att-1", "boom")
    assert await store.expire("AR-3333", T0 + HOUR)
    assert await store.due_expiry(T0 + HOUR) == []


async def test_a_reminder_is_claimed_once(backend: Backend) -> None:
    store = make_store(backend)
    await store.create(make_request(), T0 + 24 * HOUR)
    await store.create(make_request("AR-2222"), None)
    await store.create(make_request("AR-3333"), T0 + 24 * HOUR)
    assert await store.due_reminders(T0 + 23 * HOUR) == []
    assert await store.due_reminders(T0 + 24 * HOUR) == ["AR-3333", "AR-7K3Q"]
    assert await store.claim_reminder("AR-7K3Q")
    assert not await store.claim_reminder("AR-7K3Q")
    assert (await store.get("AR-7K3Q")).reminded  # type: ignore[union-attr]
    await store.record_rejection("AR-3333", signature(CAROL, Decision.REJECT))
    assert not await store.claim_reminder("AR-3333"), "closed requests are not reminded"
    assert await store.due_reminders(T0 + 100 * HOUR) == []


async def test_tracking(backend: Backend) -> None:
    store = make_store(backend)
    await store.create(make_request(), None)
    await approve(store, BOB)
    poll_at = T0 + timedelta(minutes=1)
    await store.finish_submit(
        "AR-7K3Q", "att-1", [], poller="U0BOB", poll_at=poll_at, interval_seconds=60
    )
    assert await store.claim_tracking("AR-7K3Q", T0, T0 + HOUR) is None, "not due"
    tracked = await store.claim_tracking("AR-7K3Q", poll_at, poll_at + timedelta(minutes=5))
    assert tracked is not None
    assert (tracked.poller, tracked.interval_seconds) == ("U0BOB", 60.0)
    assert tracked.request.status is Status.SUBMITTED
    assert await store.claim_tracking("AR-7K3Q", poll_at, poll_at) is None, "claimed"
    assert await store.due_tracking(poll_at + timedelta(minutes=5)) == ["AR-7K3Q"]
    later = poll_at + timedelta(minutes=2)
    assert await store.update_tracking("AR-7K3Q", "in_review", 120, later)
    stored = await store.get("AR-7K3Q")
    assert stored is not None and stored.rollup_state == "in_review"
    again = await store.claim_tracking("AR-7K3Q", later, later + HOUR)
    assert again is not None and again.interval_seconds == 120.0
    assert await store.update_tracking("AR-7K3Q", "all_approved", 60, None)
    stored = await store.get("AR-7K3Q")
    assert stored is not None
    assert (stored.status, stored.rollup_state) == (Status.CLOSED, "all_approved")
    assert await store.due_tracking(T0 + 1000 * HOUR) == []
    assert not await store.update_tracking("AR-7K3Q", "stale", 60, later)


async def test_watches_and_seen_change_sets(backend: Backend) -> None:
    store = make_store(backend)
    assert await store.watches() == []
    first = Watch("98301", "U0ADMIN", "C0DOCS", T0)
    await store.add_watch(first)
    await store.add_watch(Watch("98302", "U0ADMIN", "C0QMS", T0))
    moved = Watch("98301", "U0OTHER", "C0NEW", T0 + HOUR)
    await store.add_watch(moved)
    assert await store.watches() == [moved, Watch("98302", "U0ADMIN", "C0QMS", T0)]
    assert await store.remove_watch("98302")
    assert not await store.remove_watch("98302")
    assert await store.watches() == [moved]
    assert await store.claim_seen("98301", "cs-eng184")
    assert not await store.claim_seen("98301", "cs-eng184")
    assert await store.claim_seen("98302", "cs-eng184"), "seen is per space"
    await store.forget_seen("98301", "cs-eng184")
    assert await store.claim_seen("98301", "cs-eng184")


async def test_concurrent_approvals_record_one_signature_and_one_claim(
    backend: Backend,
) -> None:
    store = make_store(backend)
    await store.create(make_request(), None)
    others = [Signer(f"U0R{i:02d}", f"acc-{i}", f"Reviewer {i}") for i in range(10)]
    signers = [*others, *([BOB] * 10)]
    claims = await asyncio.gather(
        *(approve(store, signer, f"att-{n}") for n, signer in enumerate(signers))
    )
    assert claims.count(Claim.OK) == 1
    assert set(claims) <= {Claim.OK, Claim.SIGNED, Claim.CLOSED}
    stored = await store.get("AR-7K3Q")
    assert stored is not None and len(stored.signatures) == 1
    assert stored.status is Status.SUBMITTING
