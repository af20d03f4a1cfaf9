"""Contract of the listing methods the admin inventory needs: `TokenStore.list_all` and
`GrantStore.list_all`, on Redis and on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.stores.approval_token import RedisTokenStore
from bot.stores.linking import RedisGrantStore
from services.approval_token.ports import (
    AttemptRules,
    NewEnrolment,
    Outcome,
    Purpose,
    TokenState,
    TokenStore,
)
from services.linking.ports import GrantStore, StoredGrant
from tests.contract.conftest import Backend, RoundTrips
from tests.fakes.approval_token_store import MemoryTokenStore
from tests.fakes.linking import MemoryGrantStore

T0 = datetime(2026, 11, 23, 9, 0, 0, 123000, tzinfo=UTC)
RULES = AttemptRules(5, timedelta(minutes=15), timedelta(minutes=15), timedelta(days=30))


def tokens(backend: Backend) -> TokenStore:
    if backend.redis is not None:
        return RedisTokenStore(backend.redis, backend.keys)
    return MemoryTokenStore()


def grants(backend: Backend) -> GrantStore:
    if backend.redis is not None:
        return RedisGrantStore(backend.redis, backend.keys)
    return MemoryGrantStore()


async def enrol(store: TokenStore, user: str, at: datetime = T0) -> None:
    swap = await store.begin_enrolment(
        NewEnrolment(user, f"e-{user}", b"sealed", at, at + timedelta(minutes=10))
    )
    assert swap.locked_until is None


async def test_no_tokens_lists_nothing(backend: Backend) -> None:
    assert await tokens(backend).list_all() == []


async def test_token_list_has_every_state_in_user_order(backend: Backend) -> None:
    store = tokens(backend)
    for user in ("U3", "U1", "U2", "U4"):
        await enrol(store, user)
    accepted = await store.attempt("U1", "e-U1", Purpose.ACTIVATE, 100, T0, RULES)
    assert accepted.outcome is Outcome.ACCEPTED
    assert await store.revoke("U2", T0, "lost") is not None
    for _ in range(5):
        await store.attempt("U4", "e-U4", Purpose.ACTIVATE, None, T0, RULES)

    listed = await store.list_all()
    assert [r.user for r in listed] == ["U1", "U2", "U3", "U4"]
    by_user = {r.user: r for r in listed}
    assert by_user["U1"].state is TokenState.ACTIVE
    assert by_user["U1"].expires_at == T0 + timedelta(days=30)
    assert by_user["U2"].state is TokenState.REVOKED and by_user["U2"].sealed_secret == b""
    assert by_user["U3"].state is TokenState.PENDING
    assert by_user["U4"].locked_until == T0 + timedelta(minutes=15)
    # The same records `get` returns, one by one.
    assert listed == [await store.get(user) for user in ("U1", "U2", "U3", "U4")]


async def test_expired_enrolments_leave_the_list(backend: Backend) -> None:
    store = tokens(backend)
    await enrol(store, "U1")
    await enrol(store, "U2", at=T0 + timedelta(minutes=5))
    dropped = await store.expire_pending(T0 + timedelta(minutes=11))
    assert [d.user for d in dropped] == ["U1"]
    assert [r.user for r in await store.list_all()] == ["U2"]
    await enrol(store, "U1", at=T0 + timedelta(minutes=20))  # enrolling again lists them again
    assert [r.user for r in await store.list_all()] == ["U1", "U2"]


async def test_redis_skips_a_pending_hash_gone_by_its_ttl(backend: Backend) -> None:
    if backend.redis is None:
        return  # the fake keeps pending records until expire_pending drops them
    store = tokens(backend)
    await enrol(store, "U1")
    await enrol(store, "U2")
    await backend.redis.delete(backend.keys.totp_token("U1"))  # as the TTL would
    assert [r.user for r in await store.list_all()] == ["U2"]


async def test_token_list_of_hundreds_is_a_few_round_trips(
    backend: Backend, round_trips: RoundTrips
) -> None:
    store = tokens(backend)
    for n in range(600):  # more than one pipeline batch
        await enrol(store, f"U{n:04d}")
    round_trips.count = 0
    listed = await store.list_all()
    assert [r.user for r in listed] == [f"U{n:04d}" for n in range(600)]
    # The index read once, the hashes in two pipelined batches: on each master at most, against
    # more than 1,200 were each user's hashes read alone.
    masters = 3 if backend.name == "cluster" else 1
    print(f"\nlisting 600 records on {backend.name}: {round_trips.count} round trips")
    assert round_trips.count <= 3 * masters, f"{round_trips.count} round trips for 600 records"


def grant(user: str, account: str, broken: bool = False) -> StoredGrant:
    return StoredGrant(user, account, f"sealed-{user}".encode(), T0, broken)


async def test_no_links_lists_nothing(backend: Backend) -> None:
    assert await grants(backend).list_all() == []


async def test_link_list_has_broken_ones_and_follows_changes(backend: Backend) -> None:
    store = grants(backend)
    await store.link(grant("U2", "acc-2"))
    await store.link(grant("U1", "acc-1"))
    await store.link(grant("U3", "acc-3"))
    current = await store.get("U3")
    assert current is not None
    await store.replace(grant("U3", "acc-3", broken=True), current.version)
    await store.link(grant("U1", "acc-1b"))  # U1 switches account: still one row
    await store.delete("U2")

    listed = await store.list_all()
    assert [(g.user_id, g.account_id, g.broken) for g in listed] == [
        ("U1", "acc-1b", False),
        ("U3", "acc-3", True),
    ]
    assert listed == [await store.get("U1"), await store.get("U3")]
