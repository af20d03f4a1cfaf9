"""Contract of the approval request store, on Redis and on the in-memory fake: same rules."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.stores.requests import RedisRequestStore
from services.approvalflow.targets import ChangeSetTarget, PageSnapshot, PageTarget, TargetSnapshot
from services.errors import TransitionRefused
from services.requests.changes import apply
from services.requests.model import (
    ApprovalRequest,
    Decision,
    Index,
    PageOutcome,
    Policy,
    Signature,
    Signer,
    Stage,
    Status,
    SubmitAttempt,
)
from services.requests.store import Claim, RequestStore, Watch
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
    return SubmitAttempt(attempt_id, signer, T0, ("65601",), T0 + timedelta(minutes=2))


NOBODY: frozenset[str] = frozenset()


def sign_and_claim(signer: Signer, attempt_id: str, stage: int = 0) -> object:
    """The step a signature makes: sign, and claim the submit when it signs the last stage."""

    def step(request: ApprovalRequest) -> ApprovalRequest:
        signed = request.sign(replace(signature(signer), stage=stage), NOBODY, False)
        return (
            signed.begin_submit(attempt(signer, attempt_id)) if signed.ready_to_submit else signed
        )

    return step


async def test_a_request_reads_back_whole(backend: Backend) -> None:
    store = make_store(backend)
    request = make_request(remind_at=T0 + 24 * HOUR)
    stored = await store.create(request)
    assert stored == request.with_changes(version=1)
    assert await store.get("AR-7K3Q") == stored
    assert await store.create(make_request(title="other")) is None, "an id is taken once"
    assert await store.get("AR-7K3Q") == stored
    assert await store.get("AR-NONE") is None
    page = await store.create(make_request("AR-2222", target=PageTarget("65611", "ENG")))
    assert await store.get_many(["AR-2222", "AR-NONE", "AR-7K3Q"]) == [page, stored]
    assert await store.get_many([]) == []
    await store.set_message("AR-7K3Q", "1700000000.000100")
    read = await store.get("AR-7K3Q")
    assert read is not None and read.message_ts == "1700000000.000100"
    assert read.version == 1, "the message ts is not a lifecycle change"
    assert await store.pending_ids() == ["AR-2222", "AR-7K3Q"], "by expiry, then id"


async def test_every_lifecycle_field_reads_back(backend: Backend) -> None:
    store = make_store(backend)
    policy = Policy(
        "doc-control",
        (
            Stage("Author", "I am the author", signers=("U0BOB",)),
            Stage(
                "Review",
                "I reviewed them",
                groups=("S0DOCS",),
                required=2,
                escalate_after=timedelta(hours=24),
                escalate_to=("U0LEAD",),
                escalate_groups=("S0LEADS",),
            ),
            Stage("QA", "", signers=("U0CAROL", "U0DAVE"), required=None),
        ),
        "Three stages",
    )
    stored = await store.create(make_request(policy=policy))
    assert stored is not None
    changed = stored.with_changes(
        signatures=(signature(BOB), signature(CAROL, at=T0 + HOUR)),
        stage_opened_at=T0 + HOUR,
        escalated=(1,),
        attempt=attempt(CAROL),
        poller="U0CAROL",
        poll_interval=120.0,
        next_poll_at=T0 + 2 * HOUR,
        outcomes=(PageOutcome("65601", "OAuth", False, "blocked"),),
        last_error="ünïcode error ✓",
        rollup_state="in_review",
        reminded=True,
        reviewers=("U0X",),
        status=Status.SUBMITTING,
    )
    saved = await store.save(changed)
    assert saved == changed.with_changes(version=2)
    assert await store.get("AR-7K3Q") == saved


async def test_save_is_compare_and_set(backend: Backend) -> None:
    store = make_store(backend)
    first = await store.create(make_request())
    assert first is not None
    signed = await store.save(first.with_changes(last_error="one"))
    assert signed is not None and signed.version == 2
    assert await store.save(first.with_changes(last_error="two")) is None, "read before a save"
    assert (await store.get("AR-7K3Q")) == signed
    assert await store.save(make_request("AR-NONE", version=1)) is None, "not stored"
    # What never changes after create is not written again.
    again = await store.save(signed.with_changes(title="renamed", channel="C0OTHER"))
    assert again is not None
    read = await store.get("AR-7K3Q")
    assert read is not None and (read.title, read.channel, read.version) == (
        "PR-184 Auth docs update",
        "C0DOCS",
        3,
    )


async def test_signing_slot(backend: Backend) -> None:
    store = make_store(backend)
    assert (await store.open_signing("AR-7K3Q", "U0BOB", T0, T0 + HOUR)).claim is Claim.MISSING
    stored = await store.create(make_request())
    first = await store.open_signing("AR-7K3Q", "U0BOB", T0, T0 + timedelta(seconds=60))
    assert first.claim is Claim.OK and first.request == stored
    again = await store.open_signing("AR-7K3Q", "U0BOB", T0, T0 + timedelta(seconds=60))
    assert again.claim is Claim.BUSY, "a second window of the same person waits"
    other = await store.open_signing("AR-7K3Q", "U0CAROL", T0, T0 + timedelta(seconds=60))
    assert other.claim is Claim.OK, "slots are per person"
    later = T0 + timedelta(seconds=61)
    assert (await store.open_signing("AR-7K3Q", "U0BOB", later, later)).claim is Claim.OK
    await store.release_signing("AR-7K3Q", "U0CAROL")
    assert (await store.open_signing("AR-7K3Q", "U0CAROL", T0, T0 + HOUR)).claim is Claim.OK
    assert stored is not None
    await store.save(stored, release="U0CAROL")
    assert (await store.open_signing("AR-7K3Q", "U0CAROL", T0, T0)).claim is Claim.OK, (
        "a save gives the signer's slot back"
    )
    read = await store.get("AR-7K3Q")
    assert read is not None and read.version == 2, "slots never show in the request"


async def test_indexes_follow_the_schedule(backend: Backend) -> None:
    store = make_store(backend)
    far = T0 + 1000 * HOUR
    policy = Policy(
        "two",
        (
            Stage("Review", signers=("U0BOB",), escalate_after=timedelta(hours=2)),
            Stage("QA", signers=("U0CAROL",)),
        ),
    )
    request = await store.create(make_request(remind_at=T0 + 24 * HOUR, policy=policy))
    assert request is not None
    assert await store.due(Index.EXPIRY, T0 + 71 * HOUR) == []
    assert await store.due(Index.EXPIRY, T0 + 72 * HOUR) == ["AR-7K3Q"]
    assert await store.due(Index.REMIND, T0 + 24 * HOUR) == ["AR-7K3Q"]
    assert await store.due(Index.ESCALATE, T0 + HOUR) == []
    assert await store.due(Index.ESCALATE, T0 + 2 * HOUR) == ["AR-7K3Q"]
    request = await store.save(request.remind(T0 + 24 * HOUR))
    assert request is not None and await store.due(Index.REMIND, far) == []
    request = await apply(store, request, sign_and_claim(BOB, "att-1"))  # type: ignore[arg-type]
    assert request.status is Status.PENDING and request.open_stage == 1
    assert await store.due(Index.ESCALATE, far) == [], "the QA stage does not escalate"
    request = await apply(store, request, sign_and_claim(CAROL, "att-2", 1))  # type: ignore[arg-type]
    assert request.status is Status.SUBMITTING
    assert await store.due(Index.SUBMITTING, T0 + timedelta(minutes=2)) == ["AR-7K3Q"]
    assert await store.pending_ids() == ["AR-7K3Q"], "a submit in flight may come back"
    poll_at = T0 + timedelta(minutes=1)
    request = await store.save(
        request.finish_submit("att-2", [], poller="U0CAROL", poll_at=poll_at, interval_seconds=60)
    )
    assert request is not None
    for index in (Index.EXPIRY, Index.REMIND, Index.SUBMITTING, Index.ESCALATE):
        assert await store.due(index, far) == [], index
    assert await store.pending_ids() == []
    assert await store.due(Index.TRACKING, poll_at) == ["AR-7K3Q"]
    request = await store.save(request.track("all_approved", 60, None))
    assert request is not None and request.status is Status.CLOSED
    assert await store.due(Index.TRACKING, far) == []


async def test_due_is_in_time_order(backend: Backend) -> None:
    store = make_store(backend)
    for request_id, hours in (("AR-3333", 3), ("AR-2222", 2), ("AR-4444", 2)):
        await store.create(make_request(request_id, expires_at=T0 + hours * HOUR))
    assert await store.due(Index.EXPIRY, T0 + 2 * HOUR) == ["AR-2222", "AR-4444"]
    assert await store.due(Index.EXPIRY, T0 + 3 * HOUR) == ["AR-2222", "AR-4444", "AR-3333"]


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
    """20 signatures race for the last slot: 10 different people and one person 10 times."""
    store = make_store(backend)
    stored = await store.create(make_request(reviewers=(), reviewer_groups=()))
    assert stored is not None
    others = [Signer(f"U0R{i:02d}", f"acc-{i}", f"Reviewer {i}") for i in range(10)]
    signers = [*others, *([BOB] * 10)]

    async def race(n: int, signer: Signer) -> ApprovalRequest | TransitionRefused:
        try:
            step = sign_and_claim(signer, f"att-{n}")
            return await apply(store, stored, step)  # type: ignore[arg-type]
        except TransitionRefused as refused:
            return refused

    results = await asyncio.gather(*(race(n, s) for n, s in enumerate(signers)))
    won = [r for r in results if isinstance(r, ApprovalRequest)]
    assert len(won) == 1 and won[0].status is Status.SUBMITTING
    assert all(isinstance(r, TransitionRefused) for r in results if r is not won[0])
    final = await store.get("AR-7K3Q")
    assert final is not None and len(final.signatures) == 1
    assert final.attempt is not None and final.attempt.signer == final.signatures[0].signer
