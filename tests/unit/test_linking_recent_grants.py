"""SealedGrants reuses a grant this process read, only where allowed and never past a write."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from services.linking.models import Grant
from services.linking.sealed import SealedGrants
from services.secretbox import SecretBox, new_key
from tests.fakes.linking import MemoryGrantStore

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryGrantStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, user_id: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return await super().get(user_id)


def grant() -> Grant:
    return Grant(
        "T1", "U1", "at-1", "rt-1", T0, frozenset({"read:me"}), "cloud", "https://s", "acc-1",
        "Alice", "alice@example.com", T0, T0,
    )  # fmt: skip


async def test_recent_reads_reuse_and_expire() -> None:
    store, ticks = CountingStore(), Ticks()
    grants = SealedGrants(store, SecretBox([new_key()]), recent_seconds=5, monotonic=ticks)
    await grants.link(grant())
    first = await grants.get("U1", recent_ok=True)
    again = await grants.get("U1", recent_ok=True)
    assert first == again and store.reads == 1
    await grants.get("U1")  # the refresh protocol's re-read always goes to the store
    assert store.reads == 2
    ticks.now += 5.1
    await grants.get("U1", recent_ok=True)
    assert store.reads == 3


async def test_writes_in_this_process_are_seen_at_once() -> None:
    store, ticks = CountingStore(), Ticks()
    grants = SealedGrants(store, SecretBox([new_key()]), monotonic=ticks)
    await grants.link(grant())
    stored = await grants.get("U1", recent_ok=True)
    assert stored is not None
    await grants.replace(replace(stored, access_token="at-2"))
    refreshed = await grants.get("U1", recent_ok=True)
    assert refreshed is not None and refreshed.access_token == "at-2"
    await grants.delete("U1")
    assert await grants.get("U1", recent_ok=True) is None
