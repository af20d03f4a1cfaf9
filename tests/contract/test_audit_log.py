"""Contract of the AuditLog port on Redis and on the in-memory fake: append, order, head, since."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from bot.stores.audit import RedisAuditLog
from services.audit.chain import (
    EMPTY_HEAD,
    FORMAT_VERSION,
    GENESIS_HASH,
    AuditEntry,
    AuditFields,
    AuditHead,
    entry_hash,
    format_utc,
    verify,
)
from services.audit.ports import AuditLog
from tests.contract.conftest import Backend
from tests.fakes.audit_log import TEST_AUDIT_KEYS, InMemoryAuditLog

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


def make_log(backend: Backend) -> AuditLog:
    if backend.redis is not None:
        return RedisAuditLog(backend.redis, backend.keys, TEST_AUDIT_KEYS)
    return InMemoryAuditLog(TEST_AUDIT_KEYS)


def fields(action: str = "link.created", at: datetime = T0, **more: Any) -> AuditFields:
    return AuditFields(
        at=format_utc(at),
        actor_slack_id="U1",
        actor_atlassian_id="557058:abc",
        actor_name="Ada Lovelace",
        action=action,
        **more,
    )


async def read(log: AuditLog, since: datetime | None = None) -> list[AuditEntry]:
    return [entry async for entry in log.entries(since)]


async def test_empty_log(backend: Backend) -> None:
    log = make_log(backend)
    assert await log.head() == EMPTY_HEAD
    assert await read(log) == []
    assert verify(await read(log), await log.head(), keys=TEST_AUDIT_KEYS).ok


async def test_append_seals_and_links(backend: Backend) -> None:
    log = make_log(backend)
    first = await log.append(fields("link.created", target="U1", details={"site": "acme"}))
    second = await log.append(
        fields("request.created", target="AR-7K3Q", meaning="submit", reason="ready for QA")
    )
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    # Sealed with the newest key, which only its id names.
    newest = TEST_AUDIT_KEYS.sealing
    assert (first.v, first.kid) == (second.v, second.kid) == (FORMAT_VERSION, newest.kid)
    assert first.hash == entry_hash(first, newest) and second.hash == entry_hash(second, newest)
    assert first.id and second.id and first.id != second.id
    assert await log.head() == AuditHead(2, second.hash)


async def test_entries_round_trip_every_field_in_order(backend: Backend) -> None:
    log = make_log(backend)
    appended = [
        await log.append(
            fields(
                f"action.{i}",
                at=T0 + timedelta(seconds=i),
                target=f"T{i}",
                meaning="I approve submitting these 15 pages for review",
                reason='Ünïcödé, commas, "quotes"\nand newlines',
                details={"pages": str(i), "emoji": "✅"},
            )
        )
        for i in range(5)
    ]
    stored = await read(log)
    assert stored == appended
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert verify(stored, await log.head(), keys=TEST_AUDIT_KEYS).ok


async def test_paging_over_many_entries(backend: Backend) -> None:
    # More than one XRANGE page (500) on Redis.
    log = make_log(backend)
    for i in range(1203):
        await log.append(fields(f"a.{i}", at=T0 + timedelta(milliseconds=i % 7)))
    stored = await read(log)
    assert [e.seq for e in stored] == list(range(1, 1204))
    assert len({e.id for e in stored}) == 1203
    assert verify(stored, await log.head(), keys=TEST_AUDIT_KEYS).ok


async def test_concurrent_appends_in_one_process_form_one_chain(backend: Backend) -> None:
    log = make_log(backend)
    results = await asyncio.gather(*(log.append(fields(f"a.{i}")) for i in range(100)))
    assert sorted(e.seq for e in results) == list(range(1, 101))
    stored = await read(log)
    assert {e.action for e in stored} == {f"a.{i}" for i in range(100)}
    assert verify(stored, await log.head(), keys=TEST_AUDIT_KEYS).ok


async def test_two_instances_on_one_store_share_the_chain(backend: Backend) -> None:
    # Two processes are two adapter instances; the fake has only one store, so use it twice.
    one = make_log(backend)
    two = (
        RedisAuditLog(backend.redis, backend.keys, TEST_AUDIT_KEYS)
        if backend.redis is not None
        else one
    )
    a = await one.append(fields("a"))
    b = await two.append(fields("b"))
    c = await one.append(fields("c"))  # `one` last saw seq 1: must notice seq 2 and follow it
    assert [a.seq, b.seq, c.seq] == [1, 2, 3]
    assert c.prev_hash == b.hash
    assert verify(await read(one), await two.head(), keys=TEST_AUDIT_KEYS).ok


async def test_since_filters_on_entry_time(backend: Backend) -> None:
    log = make_log(backend)
    await log.append(fields("old", at=T0 - timedelta(days=2)))
    await log.append(fields("edge", at=T0))
    await log.append(fields("new", at=T0 + timedelta(hours=1)))
    assert [e.action for e in await read(log, since=T0)] == ["edge", "new"]
    assert [e.action for e in await read(log, since=T0 + timedelta(microseconds=1))] == ["new"]
    assert [e.action for e in await read(log, since=T0 + timedelta(days=9))] == []
    assert len(await read(log, since=T0 - timedelta(days=30))) == 3


async def test_since_with_times_out_of_seq_order(backend: Backend) -> None:
    # A process whose clock lags appends after one whose clock leads: times are not in seq order,
    # and `since` must still find exactly the entries at or after it, in stored order.
    log = make_log(backend)
    await log.append(fields("leading", at=T0 + timedelta(minutes=10)))
    await log.append(fields("lagging", at=T0 + timedelta(minutes=1)))
    await log.append(fields("early", at=T0 - timedelta(minutes=5)))
    await log.append(fields("late", at=T0 + timedelta(minutes=20)))
    got = await read(log, since=T0 + timedelta(minutes=1))
    assert [e.action for e in got] == ["leading", "lagging", "late"]
    assert [e.seq for e in got] == [1, 2, 4]
    assert verify(await read(log), await log.head(), keys=TEST_AUDIT_KEYS).ok


async def test_since_accepts_any_timezone(backend: Backend) -> None:
    log = make_log(backend)
    await log.append(fields("a", at=T0))
    await log.append(fields("b", at=T0 + timedelta(hours=2)))
    plus_one = T0.astimezone(timezone(timedelta(hours=1)))
    assert [e.action for e in await read(log, since=plus_one + timedelta(hours=1))] == ["b"]


async def test_an_append_sent_twice_is_appended_once(backend: Backend) -> None:
    # A client that lost the reply sends the very same script call again (redis-py does after a
    # dropped connection, as in a cluster failover): the entry must not appear twice.
    if backend.redis is None:
        return  # the in-memory log has no wire to lose a reply on
    log = RedisAuditLog(backend.redis, backend.keys, TEST_AUDIT_KEYS)
    await log.append(fields("link.created"))
    script = log._append

    async def sent_twice(**call: Any) -> Any:
        await script(**call)
        return await script(**call)

    log._append = sent_twice  # type: ignore[assignment]
    second = await log.append(fields("link.removed"))
    await log.append(fields("token.revoked"))
    entries = await read(log)
    assert [e.action for e in entries] == ["link.created", "link.removed", "token.revoked"]
    assert second.seq == 2 and entries[1].id == second.id
    assert verify(entries, await log.head(), keys=TEST_AUDIT_KEYS).ok
