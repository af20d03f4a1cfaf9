"""Exactly once: concurrent signers, failing submits, a restart mid-flow, and the Redis budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any, cast

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from bot.stores.approval_token import RedisTokenStore
from bot.stores.audit import RedisAuditLog
from bot.stores.keys import Keys
from bot.stores.requests import RedisRequestStore
from emulators.approvalflow.seed import BOB
from services.approvalflow.models import ChangeSetSubmission
from services.approvalflow.ports import ApprovalFlowApi
from services.audit.keys import AuditKeyring
from services.errors import (
    AlreadySigned,
    MissingScope,
    RequestClosed,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.requests.model import ApprovalRequest, Decision, Policy, Stage, Status
from services.requests.policies import PolicyBook
from services.requests.ports import RequestService
from services.requests.service import Requests
from services.requests.settings import RequestSettings
from tests.approvalflow.conftest import ALICE_SLACK, Harness
from tests.fakes.clock import FakeClock
from tests.refused import refused, said
from tests.requests.conftest import BOB_SLACK, World

DEFAULTS = RequestSettings()
LEASE = DEFAULTS.submit_lease_seconds


def ok_submits(world: World, endpoint: str = "submit_change_set") -> list[Any]:
    return [call for call in world.sandbox.calls_to(endpoint) if call.status == 200]


async def race(
    world: World,
    services: Sequence[RequestService],
    request_id: str,
    digest: str,
    signers: Sequence[str],
) -> list[object]:
    """Every signer signs at once, the n-th through the n-th service in turn (several
    "processes"); a refusal for a signature already made or a request already closed is kept as
    the result instead of raised."""

    async def sign(n: int, user: str) -> object:
        try:
            return await services[n % len(services)].sign(
                request_id, user, Decision.APPROVE, world.current_code(user), "", digest
            )
        except (AlreadySigned, RequestClosed) as exc:
            return exc

    return await asyncio.gather(*(sign(n, user) for n, user in enumerate(signers)))


async def test_twenty_concurrent_approvals_submit_once(redis_world: World, redis_url: str) -> None:
    world = redis_world
    people = [BOB_SLACK]
    for who in ("carol", "dave", "erin", "frank"):
        people.append(f"U0{who.upper()}")
        await world.reviewer(people[-1], f"{who}@example.com")
    for n in range(5):
        world.sandbox.add_user(f"Reviewer {n}", f"reviewer{n}@example.com")
        people.append(f"U0REV{n}")
        await world.reviewer(people[-1], f"reviewer{n}@example.com")
    request = await world.request(reviewers=())
    # Three "processes": each its own Redis connection and its own service instance.
    clients = [Redis.from_url(redis_url) for _ in range(2)]
    services = [world.service] + [
        world.make_service(store=RedisRequestStore(client, Keys("test:"))) for client in clients
    ]
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    world.token_clock.advance(seconds=30)
    signers = people + [BOB_SLACK] * 10  # ten people, and one of them ten times over
    assert len(signers) == 20

    try:
        results = await race(world, services, request.id, form.snapshot.digest, signers)
    finally:
        for client in clients:
            await client.aclose()
    done = [r for r in results if not isinstance(r, Exception)]
    told = [r for r in results if isinstance(r, Exception)]
    assert len(done) == 1 and len(told) == 19
    assert all(isinstance(r, AlreadySigned | RequestClosed) for r in told)
    assert len(world.sandbox.calls_to("submit_change_set")) == 1, "exactly one submit call"
    stored = await world.service.get(request.id)
    assert stored.status is Status.SUBMITTED
    assert len(stored.signatures) == 1, "one signature"
    assert world.audit_actions().count("request.signature.recorded") == 1
    assert world.audit_actions().count("request.submit.succeeded") == 1


async def test_twenty_concurrent_signatures_for_the_last_slot_of_a_quorum(
    redis_world: World, redis_url: str
) -> None:
    """A stage of 3 signatures of anyone, 2 signed: 20 race for the last slot (10 people, one of
    them 10 more times), from three processes. One signature more, one submit; the rest are told."""
    world = redis_world
    people = [BOB_SLACK]
    for n in range(11):
        world.sandbox.add_user(f"Signer {n}", f"signer{n}@example.com")
        people.append(f"U0SIG{n:02d}")
        await world.reviewer(people[-1], f"signer{n}@example.com")
    quorum = Policy("three", (Stage("Review", "I reviewed these pages", required=3),))
    book = PolicyBook({"three": quorum}, "three", "test")
    clients = [Redis.from_url(redis_url) for _ in range(2)]
    services = [world.make_service(policies=book)] + [
        world.make_service(store=RedisRequestStore(client, Keys("test:")), policies=book)
        for client in clients
    ]
    request = await world.request(reviewers=(), service=services[0])
    for early in people[-2:]:
        signed = await world.approve(request, early, service=services[0])
        assert signed.status is Status.PENDING
    racers = people[:-2]
    form = await services[0].open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    world.token_clock.advance(seconds=30)
    signers = racers + [BOB_SLACK] * (20 - len(racers))
    assert len(signers) == 20 and len(set(signers)) == 10

    try:
        results = await race(world, services, request.id, form.snapshot.digest, signers)
    finally:
        for client in clients:
            await client.aclose()
    done = [r for r in results if not isinstance(r, Exception)]
    told = [said(r) for r in results if isinstance(r, Exception)]
    assert len(done) == 1 and len(told) == 19
    assert all("already" in text or "nothing left to sign" in text for text in told), told
    assert len(world.sandbox.calls_to("submit_change_set")) == 1, "exactly one submit call"
    stored = await world.service.get(request.id)
    assert stored.status is Status.SUBMITTED
    assert len(stored.signatures) == 3, "two before, and one of the twenty"
    assert len({s.signer.slack_id for s in stored.signatures}) == 3
    assert world.audit_actions().count("request.signature.recorded") == 3


async def test_a_double_click_and_a_retry_are_told_what_happened(world: World) -> None:
    request = await world.request()
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    code = world.code(BOB_SLACK)
    args = (request.id, BOB_SLACK, Decision.APPROVE, code, "", form.snapshot.digest)
    first, second = await asyncio.gather(
        world.service.sign(*args), world.service.sign(*args), return_exceptions=True
    )
    assert not isinstance(first, BaseException)
    assert isinstance(second, AlreadySigned)
    with refused(AlreadySigned, match="already approved"):
        await world.service.sign(*args)  # Slack's retry, after the fact
    assert len(world.sandbox.calls_to("submit_change_set")) == 1


async def assert_pending_again(world: World, request_id: str, error_text: str) -> None:
    stored = await world.service.get(request_id)
    assert (stored.status, stored.signatures) == (Status.PENDING, ())
    assert stored.last_error is not None and error_text in stored.last_error
    assert "pending again" in stored.last_error
    shown = world.publisher.last(request_id)
    assert shown.status is Status.PENDING and shown.last_error == stored.last_error
    assert world.audit_actions()[-1] == "request.submit.failed"


async def test_a_500_leaves_the_request_pending_and_it_can_be_signed_again(world: World) -> None:
    request = await world.request()
    world.sandbox.inject_fault("submit_change_set", status=500)
    with pytest.raises(UpstreamUnavailable) as failed:
        await world.approve(request, BOB_SLACK)
    assert failed.value.outcome_unknown, "a 5xx on a write may have been applied"
    # The bot looked before saying anything: ApprovalFlow shows nothing submitted.
    assert world.sandbox.calls_to("preflight_change_set", who="bob@example.com")
    await assert_pending_again(world, request.id, "HTTP 500")
    signed = await world.approve(request, BOB_SLACK)
    assert signed.status is Status.SUBMITTED and signed.last_error is None
    assert len(ok_submits(world)) == 1


async def test_a_timeout_that_did_nothing_leaves_the_request_pending(world: World) -> None:
    service = world.make_service(api=world.af.make_client(timeout_seconds=0.2))
    request = await world.request(service=service)
    world.sandbox.inject_fault("submit_change_set", status=503, hang_seconds=0.5)
    with pytest.raises(UpstreamTimeout) as failed:
        await world.approve(request, BOB_SLACK, service=service)
    assert failed.value.outcome_unknown
    await assert_pending_again(world, request.id, "no answer in time")
    assert ok_submits(world) == []


async def test_a_timeout_that_went_through_counts_as_submitted(world: World) -> None:
    service = world.make_service(api=world.af.make_client(timeout_seconds=0.2))
    request = await world.request(service=service)
    world.sandbox.inject_fault("submit_change_set", status=None, hang_seconds=0.5)
    signed = await world.approve(request, BOB_SLACK, service=service)
    assert signed.status is Status.SUBMITTED
    assert signed.last_error is not None and "shows the pages submitted" in signed.last_error
    assert [o.submitted for o in signed.outcomes] == [True, True, True]
    assert len(world.sandbox.calls_to("submit_change_set")) == 1, "never submitted again"
    assert "request.submit.confirmed" in world.audit_actions()


async def test_a_403_scope_leaves_the_request_pending(world: World) -> None:
    request = await world.request()
    world.sandbox.inject_fault("submit_change_set", status=403)
    with pytest.raises(MissingScope):
        await world.approve(request, BOB_SLACK)
    await assert_pending_again(world, request.id, "write:change-set:custom")
    entry = world.audit_log.stored[-1]  # type: ignore[attr-defined]
    assert entry.actor_atlassian_id == BOB and "write:change-set:custom" in entry.reason
    assert (await world.approve(request, BOB_SLACK)).status is Status.SUBMITTED


class Crash(BaseException):
    """The process dies (not an error anyone handles)."""


class CrashingApi:
    """The real client, but the process dies around the submit: after ApprovalFlow did it
    (`after`), or before the call left."""

    def __init__(self, api: ApprovalFlowApi, *, after: bool) -> None:
        self._api = api
        self._after = after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    async def submit_change_set(self, user_id: str, change_set_id: str) -> ChangeSetSubmission:
        if self._after:
            await self._api.submit_change_set(user_id, change_set_id)
        raise Crash()


@pytest.fixture
async def second_process(redis_url: str) -> AsyncIterator[RedisRequestStore]:
    """The request store of a bot started afresh over the same Redis."""
    client = Redis.from_url(redis_url)
    try:
        yield RedisRequestStore(client, Keys("test:"))
    finally:
        await client.aclose()


@pytest.mark.parametrize("went_through", [True, False])
async def test_a_restart_mid_submit_is_recovered_without_resubmitting(
    redis_world: World, second_process: RedisRequestStore, went_through: bool
) -> None:
    world = redis_world
    dying = world.make_service(
        api=cast(ApprovalFlowApi, CrashingApi(world.af.client, after=went_through))
    )
    request = await world.request(service=dying)
    with pytest.raises(Crash):
        await world.approve(request, BOB_SLACK, service=dying)
    assert (await world.service.get(request.id)).status is Status.SUBMITTING
    calls = len(world.sandbox.calls_to("submit_change_set"))
    assert calls == (1 if went_through else 0)

    restarted = world.make_service(store=second_process)
    world.clock.advance(seconds=LEASE - 1)
    assert await restarted.track_due(world.clock.now()) == []
    assert (await restarted.get(request.id)).status is Status.SUBMITTING, "a live submit waits"
    world.clock.advance(seconds=1)
    await restarted.track_due(world.clock.now())
    recovered = await restarted.get(request.id)
    assert len(world.sandbox.calls_to("submit_change_set")) == calls, "never resubmitted"
    if went_through:
        assert recovered.status is Status.SUBMITTED
        assert [o.submitted for o in recovered.outcomes] == [True, True, True]
        assert "request.submit.recovered" in world.audit_actions()
        assert "Bob Baker approved this" in world.publisher.notes_for(request.id)[-1]
    else:
        assert (recovered.status, recovered.signatures) == (Status.PENDING, ())
        assert recovered.last_error is not None and "interrupted" in recovered.last_error
        signed = await world.approve(recovered, BOB_SLACK, service=restarted)
        assert signed.status is Status.SUBMITTED
        assert len(world.sandbox.calls_to("submit_change_set")) == 1
    assert await restarted.track_due(world.clock.now()) == []


class SteppedSleep:
    """The `sleep` between a submit's lease renewals, stepped by the test: `beat()` lets one
    renewal run and returns once it is saved (the renewer is waiting for the next step)."""

    def __init__(self) -> None:
        self._go: asyncio.Queue[None] = asyncio.Queue()
        self._waiting: asyncio.Queue[float] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        self._waiting.put_nowait(seconds)
        await self._go.get()

    async def waiting(self) -> float:
        """Until a renewer waits for its next step; how long it asked to sleep."""
        async with asyncio.timeout(10):
            return await self._waiting.get()

    async def beat(self) -> None:
        self._go.put_nowait(None)
        await self.waiting()


def lease_renewals() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("submit-lease:")]


async def submitted_and_held(world: World, signing: asyncio.Task[ApprovalRequest]) -> None:
    """Until the sandbox did the submit (its answer is held back); fails, never hangs, if the
    signing ended first."""
    async with asyncio.timeout(10):
        while not world.sandbox.calls_to("submit_change_set"):
            if signing.done():
                raise AssertionError(f"signing ended before the submit: {signing.result()}")
            await asyncio.sleep(0.01)


async def test_a_slow_submit_renews_its_claim_and_is_never_taken_over(
    redis_world: World, second_process: RedisRequestStore
) -> None:
    world = redis_world
    steps = SteppedSleep()
    live = world.make_service(api=world.af.make_client(timeout_seconds=30), sleep=steps.sleep)
    other = world.make_service(store=second_process)  # another process's recovery job
    request = await world.request(service=live)
    world.sandbox.inject_fault("submit_change_set", status=None, hang_seconds=60)
    signing = asyncio.create_task(world.approve(request, BOB_SLACK, service=live))
    try:
        await submitted_and_held(world, signing)
        assert await steps.waiting() == LEASE / 3
        attempt = (await other.get(request.id)).attempt
        assert attempt is not None
        for _ in range(4):  # nearly four leases pass while ApprovalFlow holds its answer back
            world.clock.advance(seconds=LEASE - 1)
            assert await other.recover_stuck(world.clock.now()) == []
            await steps.beat()
            stored = await other.get(request.id)
            assert stored.status is Status.SUBMITTING
            assert stored.attempt is not None
            assert stored.attempt.attempt_id == attempt.attempt_id, "never taken over"
            assert stored.attempt.lease_until == world.clock.now() + timedelta(seconds=LEASE)
        world.sandbox.release_held()
        async with asyncio.timeout(10):
            signed = await signing
    finally:
        world.sandbox.release_held()
        signing.cancel()
        await asyncio.gather(signing, return_exceptions=True)
    assert signed.status is Status.SUBMITTED
    assert len(world.sandbox.calls_to("submit_change_set")) == 1
    actions = world.audit_actions()
    assert "request.submit.succeeded" in actions and "request.submit.recovered" not in actions
    assert lease_renewals() == []


async def test_a_dead_submits_claim_runs_out_and_it_is_settled_within_30_s_once(
    redis_world: World, second_process: RedisRequestStore
) -> None:
    """The process dies while ApprovalFlow holds back the answer to a submit it did: nothing
    renews the claim any more, and the recovery job (every `recover_submits_seconds`, in
    another process) settles it as submitted within 30 s, without a second submit."""
    world = redis_world
    steps = SteppedSleep()
    dying = world.make_service(api=world.af.make_client(timeout_seconds=30), sleep=steps.sleep)
    restarted = world.make_service(store=second_process)
    request = await world.request(service=dying)
    posted_ts = (await restarted.get(request.id)).message_ts
    assert posted_ts is not None
    world.sandbox.inject_fault("submit_change_set", status=None, hang_seconds=60)
    signing = asyncio.create_task(world.approve(request, BOB_SLACK, service=dying))
    try:
        await submitted_and_held(world, signing)
        await steps.waiting()
        world.clock.advance(seconds=LEASE - 1)
        await steps.beat()  # renewed once, then the process dies
        died = world.clock.now()
        signing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await signing
        assert lease_renewals() == [], "the renewals died with it"
        settled: list[ApprovalRequest] = []
        while not settled and world.clock.now() - died < timedelta(seconds=60):
            world.clock.advance(seconds=DEFAULTS.recover_submits_seconds)
            settled = await restarted.recover_stuck(world.clock.now())
    finally:
        world.sandbox.release_held()
    assert world.clock.now() - died > timedelta(seconds=LEASE - 1), "a live lease is honoured"
    assert world.clock.now() - died <= timedelta(seconds=30)
    [recovered] = settled
    assert recovered.status is Status.SUBMITTED
    assert [o.submitted for o in recovered.outcomes] == [True, True, True]
    assert len(world.sandbox.calls_to("submit_change_set")) == 1, "never submitted again"
    assert "request.submit.recovered" in world.audit_actions()
    shown = world.publisher.last(request.id)
    assert shown.status is Status.SUBMITTED and shown.message_ts == posted_ts
    assert lease_renewals() == []


async def test_the_renewals_end_with_the_submit_whatever_happens_to_it(
    redis_world: World,
) -> None:
    world = redis_world
    request = await world.request()
    world.sandbox.inject_fault("submit_change_set", status=500)
    with pytest.raises(UpstreamUnavailable):
        await world.approve(request, BOB_SLACK)
    assert lease_renewals() == []
    crashing = world.make_service(
        api=cast(ApprovalFlowApi, CrashingApi(world.af.client, after=False))
    )
    with pytest.raises(Crash):
        await world.approve(request, BOB_SLACK, service=crashing)
    assert lease_renewals() == []


class CountingConnection(Connection):
    """A redis-py connection that counts the requests it writes (one per round trip)."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def counted(redis_url: str, redis: Redis) -> AsyncIterator[Redis]:
    pool = ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    client = Redis(connection_pool=pool)
    try:
        yield client
    finally:
        await client.aclose()
        await pool.disconnect()


async def test_an_approval_costs_at_most_ten_round_trips(
    af: Harness, clock: FakeClock, counted: Redis
) -> None:
    keys = Keys("rt:")
    world = World(
        af=af,
        clock=clock,
        token_clock=FakeClock(clock.now()),
        store=RedisRequestStore(counted, keys),
        token_store=RedisTokenStore(counted, keys),
        audit_log=RedisAuditLog(counted, keys, AuditKeyring.throwaway()),
        redis=counted,
    )
    await world.enrol(ALICE_SLACK)
    await world.reviewer(BOB_SLACK, "bob@example.com")
    figures = {}
    for decision, target in ((Decision.APPROVE, "cs-eng184"), (Decision.REJECT, "65611")):
        request = await world.request(target)
        form = await world.service.open_for_signing(request.id, BOB_SLACK, decision)
        code = world.code(BOB_SLACK)
        comment = "The reason is long enough to count." if decision is Decision.REJECT else ""
        before = CountingConnection.sent
        await world.service.sign(
            request.id, BOB_SLACK, decision, code, comment, form.snapshot.digest
        )
        figures[decision.value] = CountingConnection.sent - before
    print(f"\nRedis round trips per signature: {figures}")
    # open_signing 1, token 3 (read, attempt, audit), begin_approval 1, audit 1,
    # finish_submit 1, audit 1.
    assert figures["approve"] <= 10
    assert figures == {"approve": 8, "reject": 6}


def test_the_service_implements_the_contract() -> None:
    """`Requests` is a `RequestService` (mypy checks the assignment; the names are checked here)."""
    service: type[RequestService] = Requests
    wanted = [n for n in vars(RequestService) if not n.startswith("_")]
    assert wanted and all(callable(getattr(service, name)) for name in wanted)
