"""Contract of the linking ports (`GrantStore`, `LinkStates`) on Redis and on the memory fakes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.stores.linking import RedisGrantStore, RedisLinkStates
from services.linking.models import PendingLink
from services.linking.ports import GrantStore, LinkStates, StoredGrant
from tests.contract.conftest import Backend
from tests.fakes.linking import MemoryGrantStore, MemoryLinkStates

T0 = datetime(2026, 11, 23, 9, 0, 0, 123000, tzinfo=UTC)


def make_grants(backend: Backend) -> GrantStore:
    if backend.redis is not None:
        return RedisGrantStore(backend.redis, backend.keys)
    return MemoryGrantStore()


def make_states(backend: Backend) -> LinkStates:
    if backend.redis is not None:
        return RedisLinkStates(backend.redis, backend.keys)
    return MemoryLinkStates(backend.clock)


def grant(
    user: str = "U1", account: str = "acc-1", sealed: bytes = b"sealed-1", **changes: object
) -> StoredGrant:
    fields: dict[str, object] = {
        "user_id": user,
        "account_id": account,
        "sealed": sealed,
        "refreshed_at": T0,
        "broken": False,
    }
    fields.update(changes)
    return StoredGrant(**fields)  # type: ignore[arg-type]


async def test_link_get_and_versions(backend: Backend) -> None:
    store = make_grants(backend)
    assert await store.get("U1") is None
    first = await store.link(grant())
    assert first.version == 1 and first.held_by is None
    stored = await store.get("U1")
    assert stored is not None
    assert (stored.user_id, stored.account_id, stored.sealed) == ("U1", "acc-1", b"sealed-1")
    assert stored.refreshed_at == T0 and not stored.broken and stored.version == 1
    again = await store.link(grant(sealed=b"sealed-2"))
    assert again.version == 2
    assert (await store.get("U1")) == grant(sealed=b"sealed-2", version=2)


async def test_one_account_links_one_slack_user(backend: Backend) -> None:
    store = make_grants(backend)
    await store.link(grant("U1", "acc-1"))
    taken = await store.link(grant("U2", "acc-1", b"other"))
    assert taken.held_by == "U1" and taken.version is None
    assert await store.get("U2") is None
    # U1 moving to another account frees the first one.
    await store.link(grant("U1", "acc-2"))
    assert (await store.link(grant("U2", "acc-1"))).version == 1
    # ... and disconnecting frees it too.
    await store.delete("U1")
    assert (await store.link(grant("U3", "acc-2"))).version == 1
    assert await store.holder("acc-2") == "U3"
    assert await store.holder("acc-1") == "U2"
    assert await store.holder("acc-unknown") is None


async def test_replace_is_compare_and_set(backend: Backend) -> None:
    store = make_grants(backend)
    await store.link(grant())
    later = T0 + timedelta(hours=1)
    assert await store.replace(grant(sealed=b"new", refreshed_at=later), expected_version=1) == 2
    assert await store.replace(grant(sealed=b"stale"), expected_version=1) is None
    stored = await store.get("U1")
    assert stored is not None and stored.sealed == b"new" and stored.refreshed_at == later
    assert await store.replace(grant("U9"), expected_version=1) is None
    assert await store.get("U9") is None, "replace never creates a grant"


async def test_concurrent_replace_has_one_winner(backend: Backend) -> None:
    store = make_grants(backend)
    await store.link(grant())
    results = await asyncio.gather(
        *(store.replace(grant(sealed=f"v{i}".encode()), expected_version=1) for i in range(20))
    )
    assert [r for r in results if r is not None] == [2]


async def test_delete_returns_what_was_removed(backend: Backend) -> None:
    store = make_grants(backend)
    assert await store.delete("U1") is None
    await store.link(grant())
    removed = await store.delete("U1")
    assert removed is not None and removed.sealed == b"sealed-1" and removed.account_id == "acc-1"
    assert await store.get("U1") is None
    assert await store.idle(T0 + timedelta(days=1), 10) == []


async def test_idle_lists_working_grants_by_last_refresh(backend: Backend) -> None:
    store = make_grants(backend)
    for user, days in (("U1", 40), ("U2", 35), ("U3", 1), ("U4", 50)):
        await store.link(grant(user, f"acc-{user}", refreshed_at=T0 - timedelta(days=days)))
    cutoff = T0 - timedelta(days=30)
    assert await store.idle(cutoff, 10) == ["U4", "U1", "U2"]
    assert await store.idle(cutoff, 2) == ["U4", "U1"]
    # A refresh moves a grant out; a broken one leaves the index.
    assert await store.replace(grant("U4", "acc-U4", refreshed_at=T0), expected_version=1) == 2
    assert await store.replace(
        grant("U1", "acc-U1", b"x", broken=True, refreshed_at=T0 - timedelta(days=40)), 1
    )
    broken = await store.get("U1")
    assert broken is not None and broken.broken
    assert await store.idle(cutoff, 10) == ["U2"]
    # Linking again repairs a broken grant.
    await store.link(grant("U1", "acc-U1", refreshed_at=T0 - timedelta(days=31)))
    assert await store.idle(cutoff, 10) == ["U2", "U1"]


async def test_state_is_taken_once(backend: Backend) -> None:
    states = make_states(backend)
    pending = PendingLink(team_id="T1", user_id="U1", created_at=T0)
    await states.put("state-abc", pending, 60)
    taken = await asyncio.gather(*(states.take("state-abc") for _ in range(10)))
    assert [t for t in taken if t is not None] == [pending]
    assert await states.take("state-abc") is None
    assert await states.take("never-issued") is None


async def test_state_expires(backend: Backend) -> None:
    states = make_states(backend)
    await states.put("short", PendingLink("T1", "U1", T0), 0.2)
    await states.put("long", PendingLink("T1", "U2", T0), 60)
    await backend.pass_time(0.35)
    assert await states.take("short") is None
    assert (await states.take("long")) == PendingLink("T1", "U2", T0)


async def test_state_is_not_stored_in_clear(backend: Backend) -> None:
    if backend.redis is None:
        return  # only a real store has a dump to look at
    states = make_states(backend)
    await states.put("the-state-value", PendingLink("T1", "U1", T0), 60)
    keys = [key async for key in backend.redis.scan_iter()]
    assert keys and all(b"the-state-value" not in key for key in keys)
