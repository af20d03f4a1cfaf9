"""Contract of the Approval Token store, on Redis and on the in-memory fake: same rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.stores.approval_token import RedisTokenStore
from services.approval_token.ports import (
    AttemptRules,
    NewEnrolment,
    Outcome,
    Purpose,
    QrMessage,
    TokenState,
    TokenStore,
)
from tests.contract.conftest import Backend
from tests.fakes.approval_token_store import MemoryTokenStore

# Microseconds on purpose: both stores keep milliseconds.
T0 = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)
T0_MS = datetime(2026, 11, 23, 9, 0, 0, 123000, tzinfo=UTC)
RULES = AttemptRules(
    max_failures=5,
    failure_window=timedelta(minutes=15),
    lockout=timedelta(minutes=15),
    validity=timedelta(days=30),
)
SEALED = b"gAAAAA-sealed-by-the-service"
QR = QrMessage(channel="D123", ts="1700000000.000100", file_id="F0001")
STEP = 59_000_000


def make_store(backend: Backend) -> TokenStore:
    if backend.redis is not None:
        return RedisTokenStore(backend.redis, backend.keys)
    return MemoryTokenStore()


async def enrol(store: TokenStore, user: str = "U1", eid: str = "e1", at: datetime = T0) -> None:
    swap = await store.begin_enrolment(
        NewEnrolment(
            user=user,
            enrolment_id=eid,
            sealed_secret=SEALED,
            created_at=at,
            pending_until=at + timedelta(minutes=10),
        )
    )
    assert swap.locked_until is None


async def active(store: TokenStore, user: str = "U1", eid: str = "e1") -> None:
    await enrol(store, user, eid)
    result = await store.attempt(user, eid, Purpose.ACTIVATE, STEP, T0, RULES)
    assert result.outcome is Outcome.ACCEPTED


async def fail(store: TokenStore, at: datetime, user: str = "U1", eid: str = "e1") -> Outcome:
    return (await store.attempt(user, eid, Purpose.SIGN, None, at, RULES)).outcome


async def test_unknown_user_has_no_record(backend: Backend) -> None:
    store = make_store(backend)
    assert await store.get("U404") is None


async def test_enrolment_starts_pending(backend: Backend) -> None:
    store = make_store(backend)
    await enrol(store)
    record = await store.get("U1")
    assert record is not None
    assert record.state is TokenState.PENDING
    assert record.enrolment_id == "e1"
    assert record.sealed_secret == SEALED
    assert record.created_at == T0_MS
    assert record.pending_until == T0_MS + timedelta(minutes=10)
    assert (record.last_step, record.failures, record.locked_until) == (-1, 0, None)
    assert (record.activated_at, record.expires_at, record.qr) == (None, None, None)


async def test_reenrolment_replaces_and_hands_back_the_old_message(backend: Backend) -> None:
    store = make_store(backend)
    await enrol(store, eid="e1")
    assert await store.attach_qr("U1", "e1", QR)
    assert (await store.get("U1")).qr == QR  # type: ignore[union-attr]
    swap = await store.begin_enrolment(
        NewEnrolment("U1", "e2", b"other", T0 + timedelta(minutes=1), T0 + timedelta(minutes=11))
    )
    assert swap.previous_state is TokenState.PENDING
    assert swap.replaced_qr == QR
    record = await store.get("U1")
    assert record is not None
    assert (record.enrolment_id, record.sealed_secret, record.qr) == ("e2", b"other", None)
    assert not await store.attach_qr("U1", "e1", QR), "a replaced enrolment's message is refused"
    outcome = await store.attempt("U1", "e1", Purpose.ACTIVATE, STEP, T0, RULES)
    assert outcome.outcome is Outcome.STALE


async def test_reenrolling_an_active_token_drops_it_at_once(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    swap = await store.begin_enrolment(
        NewEnrolment("U1", "e2", b"new", T0, T0 + timedelta(minutes=10))
    )
    assert swap.previous_state is TokenState.ACTIVE
    record = await store.get("U1")
    assert record is not None
    assert (record.state, record.expires_at, record.last_step) == (TokenState.PENDING, None, -1)
    assert await store.expiring(T0, T0 + timedelta(days=365)) == []
    result = await store.attempt("U1", "e1", Purpose.SIGN, STEP + 5, T0, RULES)
    assert result.outcome is Outcome.STALE


async def test_activation(backend: Backend) -> None:
    store = make_store(backend)
    await enrol(store)
    assert await store.attach_qr("U1", "e1", QR)
    result = await store.attempt("U1", "e1", Purpose.ACTIVATE, STEP, T0, RULES)
    assert result.outcome is Outcome.ACCEPTED
    assert result.expires_at == T0_MS + timedelta(days=30)
    assert result.qr == QR
    record = await store.get("U1")
    assert record is not None
    assert record.state is TokenState.ACTIVE
    assert (record.activated_at, record.last_used_at, record.last_step) == (T0_MS, T0_MS, STEP)
    assert (record.pending_until, record.qr) == (None, None)
    assert record.expires_at == T0_MS + timedelta(days=30)
    again = await store.attempt("U1", "e1", Purpose.ACTIVATE, STEP + 1, T0, RULES)
    assert again.outcome is Outcome.STALE, "an active token is not activated twice"


async def test_stale_attempts(backend: Backend) -> None:
    store = make_store(backend)
    assert (await store.attempt("U1", "e1", Purpose.SIGN, STEP, T0, RULES)).outcome is Outcome.STALE
    await enrol(store)
    sign = await store.attempt("U1", "e1", Purpose.SIGN, STEP, T0, RULES)
    assert sign.outcome is Outcome.STALE, "a pending token cannot sign"
    late = T0 + timedelta(minutes=10)
    result = await store.attempt("U1", "e1", Purpose.ACTIVATE, STEP, late, RULES)
    assert result.outcome is Outcome.STALE, "an enrolment ends after 10 minutes"
    assert (
        await store.attempt("U1", "e9", Purpose.ACTIVATE, STEP, T0, RULES)
    ).outcome is Outcome.STALE


async def test_each_step_is_accepted_once(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    at = T0 + timedelta(minutes=1)
    for step, expected in [
        (STEP, Outcome.REPLAYED),
        (STEP - 1, Outcome.REPLAYED),
        (STEP + 1, Outcome.ACCEPTED),
        (STEP + 1, Outcome.REPLAYED),
        (STEP + 3, Outcome.ACCEPTED),
        (STEP + 2, Outcome.REPLAYED),
    ]:
        result = await store.attempt("U1", "e1", Purpose.SIGN, step, at, RULES)
        assert result.outcome is expected, step
    record = await store.get("U1")
    assert record is not None
    at_ms = at.replace(microsecond=123000)
    assert (record.last_step, record.last_used_at, record.failures) == (STEP + 3, at_ms, 0)


async def test_signing_stops_at_expiry(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    end = T0_MS + timedelta(days=30)
    before = await store.attempt(
        "U1", "e1", Purpose.SIGN, STEP + 1, end - timedelta(milliseconds=1), RULES
    )
    assert before.outcome is Outcome.ACCEPTED
    after = await store.attempt("U1", "e1", Purpose.SIGN, STEP + 2, end, RULES)
    assert after.outcome is Outcome.STALE


async def test_lockout_and_its_end(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    at = T0 + timedelta(minutes=1)
    for n in range(1, 5):
        result = await store.attempt("U1", "e1", Purpose.SIGN, None, at, RULES)
        assert (result.outcome, result.failures, result.locked_until) == (Outcome.FAILED, n, None)
    fifth = await store.attempt("U1", "e1", Purpose.SIGN, None, at, RULES)
    until = at.replace(microsecond=123000) + timedelta(minutes=15)
    assert (fifth.outcome, fifth.failures, fifth.locked_until) == (Outcome.FAILED, 5, until)
    # Locked: even a matching code is refused and not consumed.
    locked = await store.attempt(
        "U1", "e1", Purpose.SIGN, STEP + 10, until - timedelta(seconds=1), RULES
    )
    assert (locked.outcome, locked.locked_until) == (Outcome.LOCKED, until)
    record = await store.get("U1")
    assert record is not None
    assert (record.locked_until, record.failures, record.last_step) == (until, 5, STEP)
    # When the lock ends the count starts again.
    result = await store.attempt("U1", "e1", Purpose.SIGN, None, until, RULES)
    assert (result.outcome, result.failures, result.locked_until) == (Outcome.FAILED, 1, None)


async def test_failures_count_within_the_window(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    for _ in range(4):
        assert await fail(store, T0) is Outcome.FAILED
    later = T0 + timedelta(minutes=15)
    result = await store.attempt("U1", "e1", Purpose.SIGN, None, later, RULES)
    assert (result.failures, result.locked_until) == (1, None)


async def test_success_clears_the_count(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    for _ in range(4):
        await fail(store, T0)
    ok = await store.attempt("U1", "e1", Purpose.SIGN, STEP + 1, T0, RULES)
    assert ok.outcome is Outcome.ACCEPTED
    record = await store.get("U1")
    assert record is not None
    assert (record.failures, record.failures_since) == (0, None)
    result = await store.attempt("U1", "e1", Purpose.SIGN, None, T0, RULES)
    assert result.failures == 1


async def test_replay_is_not_a_failure(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    for _ in range(10):
        result = await store.attempt("U1", "e1", Purpose.SIGN, STEP, T0, RULES)
        assert (result.outcome, result.failures) == (Outcome.REPLAYED, 0)


async def test_no_enrolment_around_a_lock(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    for _ in range(5):
        await fail(store, T0)
    until = T0_MS + timedelta(minutes=15)
    swap = await store.begin_enrolment(
        NewEnrolment("U1", "e2", b"x", T0, T0 + timedelta(minutes=10))
    )
    assert swap.locked_until == until
    assert (await store.get("U1")).enrolment_id == "e1"  # type: ignore[union-attr]
    await enrol(store, eid="e3", at=until)
    record = await store.get("U1")
    assert record is not None
    assert (record.failures, record.locked_until) == (0, None), "a lock that ended clears the count"


async def test_enrolment_keeps_a_running_count(backend: Backend) -> None:
    store = make_store(backend)
    await active(store)
    for _ in range(3):
        await fail(store, T0)
    await enrol(store, eid="e2", at=T0 + timedelta(minutes=1))
    record = await store.get("U1")
    assert record is not None
    assert (record.failures, record.failures_since) == (3, T0_MS)
    two_more = [
        await store.attempt("U1", "e2", Purpose.ACTIVATE, None, T0 + timedelta(minutes=2), RULES)
        for _ in range(2)
    ]
    assert two_more[-1].locked_until is not None


async def test_revoke(backend: Backend) -> None:
    store = make_store(backend)
    assert await store.revoke("U1", T0, "lost") is None
    await active(store)
    revocation = await store.revoke("U1", T0, "lost device")
    assert revocation is not None
    assert (revocation.previous_state, revocation.qr) == (TokenState.ACTIVE, None)
    record = await store.get("U1")
    assert record is not None
    assert (record.state, record.sealed_secret) == (TokenState.REVOKED, b"")
    assert (record.revoked_at, record.revoked_reason) == (T0_MS, "lost device")
    assert await store.revoke("U1", T0, "again") is None
    result = await store.attempt("U1", "e1", Purpose.SIGN, STEP + 1, T0, RULES)
    assert result.outcome is Outcome.STALE
    assert await store.expiring(T0, T0 + timedelta(days=365)) == []


async def test_revoking_a_pending_enrolment_hands_back_its_message(backend: Backend) -> None:
    store = make_store(backend)
    await enrol(store)
    await store.attach_qr("U1", "e1", QR)
    revocation = await store.revoke("U1", T0, "admin reset")
    assert revocation is not None
    assert (revocation.previous_state, revocation.qr) == (TokenState.PENDING, QR)
    assert await store.expire_pending(T0 + timedelta(hours=1)) == []
    assert not await store.attach_qr("U1", "e1", QR)


async def test_extend(backend: Backend) -> None:
    store = make_store(backend)
    assert await store.extend("U1", timedelta(days=1), T0) is None
    await enrol(store)
    assert await store.extend("U1", timedelta(days=1), T0) is None, "pending tokens do not extend"
    await store.attempt("U1", "e1", Purpose.ACTIVATE, STEP, T0, RULES)
    end = T0_MS + timedelta(days=30)
    assert await store.claim_reminder("U1", end, 7)
    assert await store.extend("U1", timedelta(days=10), T0) == end + timedelta(days=10)
    record = await store.get("U1")
    assert record is not None
    assert (record.expires_at, record.reminded) == (end + timedelta(days=10), frozenset())
    # An expired token is extended from now.
    much_later = T0_MS + timedelta(days=100)
    assert await store.extend("U1", timedelta(days=5), much_later) == much_later + timedelta(days=5)


async def test_unlock(backend: Backend) -> None:
    store = make_store(backend)
    assert not await store.unlock("U1")
    assert await store.get("U1") is None, "unlocking never creates a record"
    await active(store)
    for _ in range(5):
        await fail(store, T0)
    assert await store.unlock("U1")
    record = await store.get("U1")
    assert record is not None
    assert (record.failures, record.failures_since, record.locked_until) == (0, None, None)
    result = await store.attempt("U1", "e1", Purpose.SIGN, STEP + 1, T0, RULES)
    assert result.outcome is Outcome.ACCEPTED


async def test_expire_pending(backend: Backend) -> None:
    store = make_store(backend)
    await enrol(store, "U1", "e1", T0)
    await store.attach_qr("U1", "e1", QR)
    await enrol(store, "U2", "e2", T0 + timedelta(minutes=5))
    await active(store, "U3", "e3")
    assert await store.expire_pending(T0 + timedelta(minutes=9)) == []
    expired = await store.expire_pending(T0 + timedelta(minutes=10))
    assert [(e.user, e.qr) for e in expired] == [("U1", QR)]
    assert await store.get("U1") is None
    assert await store.expire_pending(T0 + timedelta(minutes=10)) == [], "handed out once"
    expired = await store.expire_pending(T0 + timedelta(hours=1))
    assert [(e.user, e.qr) for e in expired] == [("U2", None)]
    assert (await store.get("U3")).state is TokenState.ACTIVE  # type: ignore[union-attr]


async def test_expiring_and_reminders(backend: Backend) -> None:
    store = make_store(backend)
    await active(store, "U1", "e1")
    await active(store, "U2", "e2")
    await store.extend("U2", timedelta(days=10), T0)
    end = T0_MS + timedelta(days=30)
    window = await store.expiring(end - timedelta(days=7), end)
    assert [r.user for r in window] == ["U1"]
    assert await store.expiring(end, end + timedelta(days=1)) == [], "after < expires_at"
    assert await store.claim_reminder("U1", end, 7)
    assert not await store.claim_reminder("U1", end, 7), "each reminder once"
    assert not await store.claim_reminder("U1", end + timedelta(days=1), 1), "expiry moved"
    assert await store.claim_reminder("U1", end, 1)
    (record,) = await store.expiring(end - timedelta(days=7), end)
    assert record.reminded == frozenset({7, 1})
    assert not await store.claim_reminder("U9", end, 7)
