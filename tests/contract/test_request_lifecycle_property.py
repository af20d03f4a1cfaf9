"""Random sequences of lifecycle steps, some racing, never reach an invalid request state.

Run against the Redis store (one server, and a Redis Cluster) and the in-memory fake. The steps
are the domain's own transitions applied through `apply` (read, step, compare-and-set), as the
services apply them; pairs of steps also race from the same stale read, as two processes would.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.stores.client import connect_redis, redis_endpoint
from bot.stores.keys import Keys
from bot.stores.requests import RedisRequestStore
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
from services.requests.store import RequestStore
from testkit.redis_cluster import ThrowawayCluster
from tests.contract.test_request_store import T0, make_request
from tests.fakes.request_store import MemoryRequestStore

PEOPLE = ["U0A", "U0B", "U0C", "U0D", "U0E", "U0REQ"]
GROUP = "S0REVIEW"
GROUP_MEMBERS = frozenset({"U0B", "U0C", "U0D"})
POLICY = Policy(
    "three",
    (
        Stage("Author", "I am the author", signers=("U0A",)),
        Stage(
            "Review",
            "I reviewed them",
            groups=(GROUP,),
            required=2,
            escalate_after=timedelta(hours=1),
            escalate_to=("U0E",),
        ),
        Stage("QA", "I approve submitting them", signers=("U0E", "U0B")),
    ),
)
FINAL = (Status.REJECTED, Status.EXPIRED, Status.SUBMITTED, Status.CLOSED)

Step = Callable[[ApprovalRequest], ApprovalRequest]


def member_of(user: str) -> frozenset[str]:
    return frozenset({GROUP}) if user in GROUP_MEMBERS else frozenset()


@dataclass
class Run:
    """What the sequence did, to check against the store."""

    counter: itertools.count[int] = field(default_factory=itertools.count)
    submits: int = 0
    closed_with: tuple[Signature, ...] | None = None


def signing_step(
    user: str, stage: int | None, decision: Decision, run: Run, hours: int, read: ApprovalRequest
) -> Step:
    """A signature for `stage`, or (None) for the stage the service would pick from `read`.
    A user "" is one of those who sign `read`'s open stage (so the sequences get somewhere)."""
    if not user:
        eligible = [p for p in PEOPLE if read.stage_of(p, member_of(p), False) == read.open_stage]
        user = eligible[hours % len(eligible)] if eligible else PEOPLE[0]
    signer = Signer(user, f"acc-{user}", user)
    at = T0 + timedelta(hours=hours)
    if stage is None:
        stage = read.stage_of(user, member_of(user), False) or 0
    signature = Signature(signer, decision, f"meaning {stage}", "x" * 25, at, "d" * 64, stage)

    def step(request: ApprovalRequest) -> ApprovalRequest:
        if decision is Decision.REJECT:
            return request.reject(signature, member_of(user), False)
        signed = request.sign(signature, member_of(user), False)
        if not signed.ready_to_submit:
            return signed
        attempt_id = f"att-{next(run.counter)}"
        lease = at + timedelta(minutes=2)
        return signed.begin_submit(SubmitAttempt(attempt_id, signer, at, ("1",), lease))

    return step


def holder_step(kind: str, stale: bool) -> Step:
    def step(request: ApprovalRequest) -> ApprovalRequest:
        attempt_id = "att-stale" if stale or request.attempt is None else request.attempt.attempt_id
        if kind == "finish":
            outcomes = [PageOutcome("1", None, True)]
            return request.finish_submit(
                attempt_id, outcomes, poller="U0E", poll_at=T0, interval_seconds=60
            )
        if kind == "fail":
            return request.fail_submit(attempt_id, "boom")
        return request.note_error(attempt_id, "unknown")

    return step


def job_step(kind: str, hours: int) -> Step:
    now = T0 + timedelta(hours=hours)

    def step(request: ApprovalRequest) -> ApprovalRequest:
        match kind:
            case "expire":
                return request.expire(now)
            case "remind":
                return request.remind(now)
            case "escalate":
                return request.escalate(now)
            case "reclaim":
                return request.reclaim(now, f"att-r{hours}", now + timedelta(minutes=2))
            case "poll":
                return request.claim_poll(now, now + timedelta(minutes=5))
            case "track":
                return request.track("in_review", 60, now + timedelta(minutes=1))
            case "close":
                return request.track("all_approved", 60, None)
            case _:
                return request.reassign("U0E", "U0C")

    return step


people = st.sampled_from([*PEOPLE, "", "", ""])
hours = st.integers(min_value=0, max_value=80)
signing = st.tuples(
    st.just("sign"),
    people,
    st.one_of(st.none(), st.none(), st.none(), st.integers(0, 2)),
    st.sampled_from([Decision.APPROVE] * 5 + [Decision.REJECT]),
    hours,
)
# Signatures are most of what happens to a request, so most of what is drawn.
action = st.one_of(
    signing,
    signing,
    signing,
    st.tuples(st.just("holder"), st.sampled_from(["finish", "fail", "note"]), st.booleans()),
    st.tuples(
        st.just("job"),
        st.sampled_from(
            ["expire", "remind", "escalate", "reclaim", "poll", "track", "close", "reassign"]
        ),
        hours,
    ),
)
# A list of rounds; a round of two actions races them from the same read.
rounds = st.lists(st.lists(action, min_size=1, max_size=3), min_size=4, max_size=24)


def build(run: Run, chosen: tuple[object, ...], read: ApprovalRequest) -> Step:
    match chosen:
        case ("sign", str(user), stage, Decision() as decision, int(at)):
            assert stage is None or isinstance(stage, int)
            return signing_step(user, stage, decision, run, at, read)
        case ("holder", str(kind), bool(stale)):
            return holder_step(kind, stale)
        case ("job", str(kind), int(at)):
            return job_step(kind, at)
    raise AssertionError(chosen)


async def play(store: RequestStore, plan: list[list[tuple[object, ...]]]) -> None:
    run = Run()
    stored = await store.create(
        make_request(policy=POLICY, requester="U0REQ", remind_at=T0 + timedelta(hours=24))
    )
    assert stored is not None
    for round_ in plan:
        read = await store.get(stored.id)
        assert read is not None
        before = read

        versions: list[int] = []

        async def attempt(
            chosen: tuple[object, ...], read: ApprovalRequest = read, versions: list[int] = versions
        ) -> None:
            try:
                saved = await apply(store, read, build(run, chosen, read))
            except TransitionRefused:
                return
            versions.append(saved.version)
            if saved.status is Status.SUBMITTED and chosen[:2] == ("holder", "finish"):
                run.submits += 1

        await asyncio.gather(*(attempt(chosen) for chosen in round_))
        after = await store.get(stored.id)
        assert after is not None
        expected = list(range(before.version + 1, before.version + 1 + len(versions)))
        assert sorted(versions) == expected == list(range(before.version + 1, after.version + 1)), (
            "a step was saved over another (a lost update)"
        )
        await check(store, before, after, run)


async def check(
    store: RequestStore, before: ApprovalRequest, after: ApprovalRequest, run: Run
) -> None:
    assert run.submits <= 1, "submitted twice"
    signers = [s.signer.slack_id for s in after.signatures]
    assert len(signers) == len(set(signers)), "a person signed twice (or in two slots)"
    for index, stage in enumerate(after.stages):
        assert len(after.approvals_in(index)) <= stage.quorum, "more signatures than slots"
    approvals = [s for s in after.signatures if s.decision is Decision.APPROVE]
    for signature in approvals:  # a later stage's signer may reject early; never approve
        earlier = range(signature.stage)
        assert all(len(after.approvals_in(i)) >= after.stages[i].quorum for i in earlier), (
            "a stage signed before the one before it was complete"
        )
    assert after.requester not in signers
    if before.status in FINAL:
        assert after.signatures == before.signatures, "a signature after the request closed"
        assert after.status in FINAL
    assert (after.status is Status.SUBMITTING) == (after.attempt is not None)
    if after.status in (Status.SUBMITTING, Status.SUBMITTED, Status.CLOSED):
        assert after.open_stage is None, "submitted before every stage was signed"
    rejections = [s for s in after.signatures if s.decision is Decision.REJECT]
    assert len(rejections) <= 1 and (not rejections or after.status is Status.REJECTED)
    far = T0 + timedelta(days=3650)
    schedule = after.schedule()
    for job in Index:
        listed = after.id in await store.due(job, far)
        assert listed == (schedule[job] is not None), f"the {job} index disagrees"


PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(plan=rounds)
def test_the_lifecycle_on_the_fake(plan: list[list[tuple[object, ...]]]) -> None:
    asyncio.run(play(MemoryRequestStore(), plan))


_examples = itertools.count()


@pytest.fixture(scope="module")
def redis_url_for_property(redis_url: str) -> str:
    return redis_url


@PROPERTY
@given(plan=rounds)
def test_the_lifecycle_on_redis(
    redis_url_for_property: str, plan: list[list[tuple[object, ...]]]
) -> None:
    async def main() -> None:
        client = Redis.from_url(redis_url_for_property)
        try:
            keys = Keys(f"property{next(_examples)}:")
            await play(RedisRequestStore(client, keys), plan)
        finally:
            await client.aclose()

    asyncio.run(main())


@settings(PROPERTY, max_examples=40)  # fewer: each example connects to a six-node cluster
@given(plan=rounds)
def test_the_lifecycle_on_redis_cluster(
    redis_cluster: ThrowawayCluster, plan: list[list[tuple[object, ...]]]
) -> None:
    async def main() -> None:
        client = connect_redis(redis_endpoint(redis_cluster.url))
        try:
            keys = Keys(f"property{next(_examples)}:")
            await play(RedisRequestStore(client, keys), plan)
        finally:
            await client.aclose()

    asyncio.run(main())


def test_a_sequence_reaching_every_stage_submits_once() -> None:
    """The property's own plan language reaches a submit (so the property is not vacuous)."""
    run_plan: list[list[tuple[object, ...]]] = [
        [("sign", "U0A", 0, Decision.APPROVE, 0)],
        [("sign", "U0B", 1, Decision.APPROVE, 1), ("sign", "U0C", 1, Decision.APPROVE, 1)],
        [("sign", "U0D", 1, Decision.APPROVE, 1), ("sign", "U0E", 2, Decision.APPROVE, 2)],
        [("sign", "U0E", 2, Decision.APPROVE, 2)],
        [("holder", "finish", False), ("holder", "finish", False)],
    ]
    store = MemoryRequestStore()
    asyncio.run(play(store, run_plan))
    (row,) = store.rows.values()
    assert row.request.status is Status.SUBMITTED
    assert [s.signer.slack_id for s in row.request.signatures] == ["U0A", "U0B", "U0C", "U0E"]
    assert replace(row.request, version=0).open_stage is None
