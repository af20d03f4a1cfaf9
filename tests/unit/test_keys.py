"""Every key has a hash-tag decision, and keys that one script touches share a cluster slot."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

import pytest
from redis.crc import key_slot

from bot.stores.keys import SHARDS, Keys, Slot, shard_of, shards

KEYS = Keys("approvals:")


def key_methods() -> list[tuple[str, Callable[..., str]]]:
    return [
        (name, member)
        for name, member in inspect.getmembers(KEYS, inspect.ismethod)
        if not name.startswith("_")
    ]


def sample(name: str, method: Callable[..., str], ident: str = "AR-7K3Q") -> str:
    """The key for one aggregate id (or its shard, for an index)."""
    params = list(inspect.signature(method).parameters.values())
    args = [shard_of(ident) if p.annotation in (int, "int") else ident for p in params]
    return method(*args)


def tag(key: str) -> str | None:
    match = re.search(r"\{([^}]*)\}", key)
    return match.group(1) if match and match.group(1) else None


def test_every_key_method_has_a_hash_tag_decision() -> None:
    undecided = [
        name
        for name, method in key_methods()
        if not isinstance(getattr(method, "slot", None), Slot)
    ]
    assert undecided == [], (
        f"{undecided}: declare each key's slot with @slot(Slot....) in bot/stores/keys.py "
        "(which aggregate's hash tag it shares, or ALONE if no script touches it with another key)"
    )


@pytest.mark.parametrize("ident", ["AR-7K3Q", "U0123456", "W1"])
def test_each_key_carries_the_tag_its_decision_names(ident: str) -> None:
    for name, method in key_methods():
        decision: Slot = method.slot  # type: ignore[attr-defined]
        key = sample(name, method, ident)
        assert key.startswith("approvals:"), name
        if decision is Slot.ALONE:
            assert tag(key) is None, f"{name} is declared ALONE but has a tag: {key}"
        elif decision in (Slot.REQUEST, Slot.USER):
            assert tag(key) == f"{decision.value}:{shard_of(ident)}", f"{name}: {key}"
        else:
            assert tag(key) == decision.value, f"{name}: {key}"


def test_an_aggregate_and_its_shard_of_every_index_share_one_slot() -> None:
    for decision in (Slot.REQUEST, Slot.USER):
        for ident in ("AR-7K3Q", "AR-ZZZZ", "U0000001"):
            slots = {
                key_slot(sample(name, method, ident).encode())
                for name, method in key_methods()
                if method.slot is decision  # type: ignore[attr-defined]
            }
            assert len(slots) == 1, (decision, ident, slots)


def test_shards_spread_over_the_slots_and_ids_over_the_shards() -> None:
    slots = {key_slot(KEYS.request_expiry(n).encode()) for n in shards()}
    assert len(slots) == SHARDS, "each shard of an index lands in a slot of its own"
    # A 3-master cluster splits 16384 slots in three ranges: every master gets some shards.
    assert {slot * 3 // 16384 for slot in slots} == {0, 1, 2}
    counts = [0] * SHARDS
    for n in range(1600):
        counts[shard_of(f"AR-{n:04X}")] += 1
    assert min(counts) > 50, counts


def test_the_shard_of_an_id_never_changes() -> None:
    # Part of the stored layout: a change here moves every key already in Redis.
    assert [shard_of(i) for i in ("AR-7K3Q", "U0123456", "")] == [1, 11, 0]
