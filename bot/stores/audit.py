"""Redis adapter for the `AuditLog` port: a stream of hash-chained entries plus a head hash.

Layout (names in bot/stores/keys.py):
    {prefix}{audit}:stream   stream; one entry per audit record, fields as in chain.RECORD_FIELDS
    {prefix}{audit}:head     hash; seq, hash and stream id of the newest entry, plus the turn
                             (token, until) of an appender that lost a race, while it lasts

Concurrency: entries are sealed (HMAC-SHA256) in Python, which holds the key, never in Redis,
which must not; so an append is an optimistic compare-and-append. The caller seals the entry on
the head it believes current; one Lua script checks the stored head is still that, then XADDs the
entry and moves the head, atomically, so every entry links to the one before it whatever the
number of processes. On a conflict the script answers the current head and the caller re-seals
and retries. A script run again with the entry it already appended (the client retried after a
lost reply, as during a cluster failover) finds that entry at the head and appends nothing.

Fairness: a process appending back to back would otherwise win every race (its next append is on
the wire before the loser's retry) and starve the others. So the loser of a race is given the next
turn (`turn`, `turn_until` on the head, a few hundred ms at most): until it uses it, other
appenders are told to wait. Within a process one task appends at a time, and the entries that
wait meanwhile go together in its next script call, sealed one on the other (all are appended or
none), so only other processes compete; the last head seen is remembered, so an uncontended
append is one round trip.

Stream ids are `<ms>-<n>` with ms = max(entry time, previous id's ms): every id is at or after its
entry's own time, so `entries(since)` can start XRANGE at `since` and miss nothing, even when a
process's clock lags the others' and times in the chain are not in seq order.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from bot.stores._boundary import store_errors
from bot.stores.client import RedisClient
from bot.stores.keys import Keys
from services.audit.chain import (
    EMPTY_HEAD,
    GENESIS_HASH,
    AuditEntry,
    AuditFields,
    AuditHead,
    at_or_after,
    entry_from_record,
    entry_to_record,
    epoch_ms,
    parse_utc,
    seal,
)
from services.audit.keys import AuditKeyring
from services.errors import StoreError

# KEYS: stream, head. ARGV: genesis hash, seq and hash the first entry was sealed on, seq and
# hash of the last entry, the caller's token, how many entries, how long a turn lasts in ms;
# then for each entry (each sealed on the one before it): its time in ms, how many field/value
# items follow, the items. All are appended or none. Replies {1, id, id...} when appended;
# {0, seq, hash, blocked} (the current head) when not.
_APPEND = """
local head = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'id', 'turn', 'turn_until')
local seq = head[1] or '0'
local hash = head[2] or ARGV[1]
local count = tonumber(ARGV[7])
if seq == ARGV[4] and hash == ARGV[5] then
  -- These very entries end at the head: a retry of a call whose reply was lost. Append once.
  if count == 1 then
    return {1, head[3]}
  end
  local done = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', count)
  local reply = {1}
  for j = count, 1, -1 do
    reply[#reply + 1] = done[j][1]
  end
  return reply
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if head[4] and head[4] ~= ARGV[6] and tonumber(head[5] or '0') > now then
  return {0, seq, hash, 1}
end
if seq ~= ARGV[2] or hash ~= ARGV[3] then
  redis.call('HSET', KEYS[2], 'turn', ARGV[6], 'turn_until', now + tonumber(ARGV[8]))
  return {0, seq, hash, 0}
end
local last = head[3]
local reply = {1}
local i = 9
for k = 1, count do
  local ms = tonumber(ARGV[i])
  local items = tonumber(ARGV[i + 1])
  local fields = {}
  for j = i + 2, i + 1 + items do
    fields[#fields + 1] = ARGV[j]
  end
  i = i + 2 + items
  local n = 0
  if last then
    local last_ms, last_n = string.match(last, '^(%d+)%-(%d+)$')
    if last_ms and tonumber(last_ms) >= ms then
      ms = tonumber(last_ms)
      n = tonumber(last_n) + 1
    end
  end
  if ms <= 0 and n == 0 then
    n = 1
  end
  local id = redis.pcall('XADD', KEYS[1], string.format('%d-%d', ms, n), unpack(fields))
  if type(id) == 'table' and id.err then
    -- Only if someone added entries by hand past our id: keep the trail writable, and let the
    -- server pick an id (verify will report whatever they did).
    id = redis.call('XADD', KEYS[1], '*', unpack(fields))
  end
  last = id
  reply[#reply + 1] = id
end
redis.call('HSET', KEYS[2], 'seq', ARGV[4], 'hash', ARGV[5], 'id', last)
if head[4] then
  redis.call('HDEL', KEYS[2], 'turn', 'turn_until')
end
return reply
"""

_PAGE = 500
# Appends waiting in this process go to Redis together, at most this many in one script call:
# enough for what waits behind one round trip at a busy moment, few enough that processes
# appending at once still take turns at a fine grain (a turn is one call).
_BATCH = 8
# A process that lost a race gets the next turn for this long (ms); it normally uses it within
# one round trip, and if it died meanwhile the others wait no longer than this.
_TURN_MS = 200
# How long an append may keep losing before it gives up with StoreError (seconds).
_APPEND_TIMEOUT = 10.0


def _text(value: object) -> str:
    if isinstance(value, bytes):
        # A byte that is not UTF-8 can only come from a hand edit; replacing it keeps the entry
        # readable and guarantees its hash no longer matches.
        return value.decode("utf-8", errors="replace")
    return str(value)


def _seq(value: object) -> int:
    try:
        return int(_text(value))
    except ValueError:
        return -1


class RedisAuditLog:
    """`AuditLog` on a Redis stream; one instance per process (it orders this process's appends).

    Entries are sealed with the newest of `audit_keys` (the composition root derives them from
    ENCRYPTION_KEYS).
    """

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        audit_keys: AuditKeyring,
        *,
        timeout: float = _APPEND_TIMEOUT,
    ) -> None:
        self._redis = redis
        self._seal_key = audit_keys.sealing
        self._stream = keys.audit_stream()
        self._head = keys.audit_head()
        self._append = redis.register_script(_APPEND)
        self._waiting: list[tuple[AuditFields, int, asyncio.Future[AuditEntry]]] = []
        self._appender: asyncio.Task[None] | None = None
        self._timeout = timeout
        self._token = secrets.token_hex(8)
        # The head as last seen; only a guess (the script checks it), which saves a read.
        self._known = EMPTY_HEAD
        #: Append attempts that lost to another process and were re-sealed (for tests, metrics).
        self.conflicts = 0

    async def append(self, fields: AuditFields) -> AuditEntry:
        # The entries waiting here go in one script call, made by one task at a time: with one
        # round trip per entry, every other append of this process queued behind each (at 25
        # signers at once an append waited 50-70 ms, bench/approve.py).
        at_ms = max(0, epoch_ms(parse_utc(fields.at)))
        placed: asyncio.Future[AuditEntry] = asyncio.get_running_loop().create_future()
        self._waiting.append((fields, at_ms, placed))
        if self._appender is None or self._appender.done():
            self._appender = asyncio.create_task(self._append_waiting(), name="audit-append")
        return await placed

    async def _append_waiting(self) -> None:
        """Append what waits, a batch at a time, until nothing does; each caller gets its
        entry or the error. Callers that stopped waiting still have their entry appended."""
        while self._waiting:
            batch, self._waiting = self._waiting[:_BATCH], self._waiting[_BATCH:]
            try:
                entries = await self._append_all([(fields, at_ms) for fields, at_ms, _ in batch])
            except Exception as exc:
                for _, _, placed in batch:
                    if not placed.done():
                        placed.set_exception(exc)
                continue
            for (_, _, placed), entry in zip(batch, entries, strict=True):
                if not placed.done():
                    placed.set_result(entry)

    async def _append_all(self, waiting: list[tuple[AuditFields, int]]) -> list[AuditEntry]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        blocked = 0
        while True:
            built_on = self._known
            last = built_on
            entries: list[AuditEntry] = []
            items: list[str] = []
            for fields, at_ms in waiting:
                entry = seal(fields, last.seq + 1, last.hash, self._seal_key)
                entries.append(entry)
                last = AuditHead(entry.seq, entry.hash)
                record = entry_to_record(entry)
                items += (str(at_ms), str(2 * len(record)))
                for name, value in record.items():
                    items += (name, value)
            args: list[str] = [
                GENESIS_HASH,
                str(built_on.seq),
                built_on.hash,
                str(last.seq),
                last.hash,
                self._token,
                str(len(entries)),
                str(_TURN_MS),
                *items,
            ]
            with store_errors("appending to the audit trail"):
                reply = await self._append(keys=[self._stream, self._head], args=args)
            if _seq(reply[0]) == 1:
                self._known = last
                ids = [_text(i) for i in reply[1:]]
                return [replace(e, id=i) for e, i in zip(entries, ids, strict=True)]
            self._known = AuditHead(_seq(reply[1]), _text(reply[2]))
            self.conflicts += 1
            if loop.time() > deadline:
                raise StoreError(
                    "the audit trail could not be appended in time: its head keeps "
                    "changing or is unreadable (run `approvals-bot audit verify`)"
                )
            if _seq(reply[3]) == 1:
                # Another appender holds the turn and needs about one round trip to use
                # it; wait a little (longer if it seems to have died) instead of spinning.
                blocked += 1
                await asyncio.sleep(min(0.0005 * 2**blocked, 0.02))
            else:
                # We lost a race and now hold the turn: retry at once on the fresh head.
                blocked = 0

    async def entries(self, since: datetime | None = None) -> AsyncIterator[AuditEntry]:
        # Ids are never before their entry's time (see the module docstring), so starting at
        # `since` skips only entries that are older; the exact filter is then on `at`.
        start = "-" if since is None else f"{max(0, epoch_ms(since))}-0"
        while True:
            with store_errors("reading the audit trail"):
                page = await self._redis.xrange(self._stream, min=start, max="+", count=_PAGE)
            page = page or []
            for raw_id, raw_fields in page:
                record = {_text(k): _text(v) for k, v in (raw_fields or {}).items()}
                entry = entry_from_record(record, id=_text(raw_id))
                if since is None or at_or_after(entry, since):
                    yield entry
            if len(page) < _PAGE:
                return
            start = "(" + _text(page[-1][0])

    async def head(self) -> AuditHead:
        with store_errors("reading the audit head"):
            seq, hash_ = await self._redis.hmget(self._head, ["seq", "hash"])
        if seq is None and hash_ is None:
            return EMPTY_HEAD
        return AuditHead(_seq(seq) if seq is not None else -1, _text(hash_ or b""))
