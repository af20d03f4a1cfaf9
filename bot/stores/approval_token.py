"""Redis adapter for the Approval Token `TokenStore` port: one hash per user plus two job indexes.

Layout (names and hash tags in bot/stores/keys.py; n = shard_of(user), one of SHARDS):
    {prefix}{user:n}:totp:<slack id>  hash; state, eid, secret (sealed by the service's
                                    SecretBox, never clear), created, pending_until, activated,
                                    expires, last_used, last_step, failures, fail_since,
                                    locked_until, revoked_at, revoked_reason, rem:<days>. Times
                                    are epoch ms. A pending hash carries a TTL
                                    (PENDING_ENROLMENT_TTL or more), so an unconfirmed secret
                                    leaves Redis even if no job runs.
    {prefix}{user:n}:totp-qr        hash; user -> JSON {eid, channel, ts, file} of the QR DM
    {prefix}{user:n}:totp-pending   zset; user scored by pending_until (ms)
    {prefix}{user:n}:totp-expiry    zset; user scored by expires (ms), active tokens only
    {prefix}{user:n}:totp-users     set; every user who started an enrolment (the admin
                                    inventory's index; a member without a hash is skipped)

A user's hash and their shard of the indexes share one slot, so every script stays in one slot
on Redis Cluster; jobs and the inventory read the SHARDS pieces of an index in one pipeline.
A verification is `get` (one pipelined round trip: HGETALL + HGET) and `attempt` (one EVALSHA).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.stores._boundary import store_errors
from bot.stores.client import RedisClient
from bot.stores.keys import PENDING_ENROLMENT_TTL, Keys, shard_of, shards
from services.approval_token.ports import (
    AttemptResult,
    AttemptRules,
    EnrolmentSwap,
    ExpiredEnrolment,
    NewEnrolment,
    Outcome,
    Purpose,
    QrMessage,
    Revocation,
    TokenRecord,
    TokenState,
    from_ms,
    to_ms,
)

# Lua turns numbers into strings with "%.14g"; every computed time goes through '%d' so that
# epoch milliseconds are never written in exponent form.

# KEYS: user hash, qr hash, pending zset, expiry zset, users set.
# ARGV: user, eid, sealed secret, created ms, pending_until ms, hash TTL ms.
# Replies {'locked', locked_until} or {'ok', previous state or '', replaced qr json or ''}.
_BEGIN = """
local now = tonumber(ARGV[4])
local old = redis.call('HMGET', KEYS[1], 'state', 'locked_until', 'failures', 'fail_since')
local locked = tonumber(old[2] or '0')
if locked > now then
  return {'locked', locked}
end
local failures, since = old[3] or '0', old[4] or '0'
if locked > 0 then
  failures, since = '0', '0'
end
local qr = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'pending', 'eid', ARGV[2], 'secret', ARGV[3],
  'created', ARGV[4], 'pending_until', ARGV[5], 'last_step', '-1',
  'failures', failures, 'fail_since', since, 'locked_until', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return {'ok', old[1] or '', qr}
"""

# KEYS: user hash, qr hash. ARGV: user, eid, qr json. Replies 1 when stored, 0 when stale.
_ATTACH_QR = """
local f = redis.call('HMGET', KEYS[1], 'eid', 'state')
if f[1] ~= ARGV[2] or f[2] ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

# KEYS: user hash, qr hash, pending zset, expiry zset.
# ARGV: user, eid, purpose, step (-1: no match), now ms, window ms, max failures, lockout ms,
#       validity ms.
# Replies {outcome, failures, locked_until ms[, expires ms, qr json]}.
_ATTEMPT = """
local f = redis.call('HMGET', KEYS[1], 'eid', 'state', 'pending_until', 'expires',
  'last_step', 'failures', 'fail_since', 'locked_until')
if f[1] ~= ARGV[2] then
  return {'stale', 0, 0}
end
local now = tonumber(ARGV[5])
if ARGV[3] == 'activate' then
  if f[2] ~= 'pending' or tonumber(f[3] or '0') <= now then
    return {'stale', 0, 0}
  end
elseif f[2] ~= 'active' or tonumber(f[4] or '0') <= now then
  return {'stale', 0, 0}
end
local failures = tonumber(f[6] or '0')
local since = tonumber(f[7] or '0')
local locked = tonumber(f[8] or '0')
if locked > now then
  return {'locked', failures, locked}
end
if locked > 0 then
  -- the lock has run out: the count starts again
  failures, since = 0, 0
  redis.call('HSET', KEYS[1], 'failures', '0', 'fail_since', '0', 'locked_until', '0')
end
local step = tonumber(ARGV[4])
if step >= 0 then
  if step <= tonumber(f[5] or '-1') then
    return {'replayed', failures, 0}
  end
  redis.call('HSET', KEYS[1], 'last_step', ARGV[4], 'last_used', ARGV[5],
    'failures', '0', 'fail_since', '0', 'locked_until', '0')
  if ARGV[3] ~= 'activate' then
    return {'accepted', 0, 0}
  end
  local expires = string.format('%d', now + tonumber(ARGV[9]))
  redis.call('HSET', KEYS[1], 'state', 'active', 'activated', ARGV[5], 'expires', expires)
  redis.call('HDEL', KEYS[1], 'pending_until')
  redis.call('PERSIST', KEYS[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], expires, ARGV[1])
  local qr = redis.call('HGET', KEYS[2], ARGV[1]) or ''
  redis.call('HDEL', KEYS[2], ARGV[1])
  return {'accepted', 0, 0, expires, qr}
end
if since == 0 or now - since >= tonumber(ARGV[6]) then
  failures, since = 0, now
end
failures = failures + 1
local until_ms = 0
if failures >= tonumber(ARGV[7]) then
  until_ms = now + tonumber(ARGV[8])
end
redis.call('HSET', KEYS[1], 'failures', string.format('%d', failures),
  'fail_since', string.format('%d', since), 'locked_until', string.format('%d', until_ms))
return {'failed', failures, until_ms}
"""

# KEYS: user hash, qr hash, pending zset, expiry zset. ARGV: user, now ms, reason.
# Replies {previous state, qr json or ''}, or nil when there is nothing to revoke.
_REVOKE = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == false or state == 'revoked' then
  return false
end
redis.call('HSET', KEYS[1], 'state', 'revoked', 'revoked_at', ARGV[2], 'revoked_reason', ARGV[3])
redis.call('HDEL', KEYS[1], 'secret', 'pending_until')
redis.call('PERSIST', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
local qr = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('HDEL', KEYS[2], ARGV[1])
return {state, qr}
"""

# KEYS: user hash, expiry zset. ARGV: user, now ms, by ms. Replies the new expiry or nil.
_EXTEND = """
local f = redis.call('HMGET', KEYS[1], 'state', 'expires')
if f[1] ~= 'active' then
  return false
end
local base = math.max(tonumber(f[2] or '0'), tonumber(ARGV[2]))
local expires = string.format('%d', base + tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'expires', expires)
for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(name, 1, 4) == 'rem:' then
    redis.call('HDEL', KEYS[1], name)
  end
end
redis.call('ZADD', KEYS[2], expires, ARGV[1])
return expires
"""

# KEYS: user hash. Replies 1 when unlocked, 0 when there is no record (never creates one).
_UNLOCK = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'failures', '0', 'fail_since', '0', 'locked_until', '0')
return 1
"""

# KEYS: user hash, qr hash, pending zset, users set. ARGV: user, now ms.
# Replies {qr json or ''} to the one caller that removed the due entry, nil to any other.
_DROP_PENDING = """
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
if score == false or tonumber(score) > tonumber(ARGV[2]) then
  return false
end
redis.call('ZREM', KEYS[3], ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'state', 'pending_until')
if f[1] == 'pending' and tonumber(f[2] or '0') <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[4], ARGV[1])
end
local qr = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('HDEL', KEYS[2], ARGV[1])
return {qr}
"""

# KEYS: user hash. ARGV: expires ms, days. Replies 1 for the first claim for that expiry.
_CLAIM_REMINDER = """
local f = redis.call('HMGET', KEYS[1], 'state', 'expires')
if f[1] ~= 'active' or f[2] ~= ARGV[1] then
  return 0
end
return redis.call('HSETNX', KEYS[1], 'rem:' .. ARGV[2], ARGV[1])
"""


# Users per pipeline when listing every record (bounds one reply's size).
_LIST_BATCH = 500


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _time(fields: dict[bytes, bytes], name: bytes) -> datetime | None:
    raw = fields.get(name)
    if raw is None or int(raw) == 0:
        return None
    return from_ms(int(raw))


def _qr(raw: Any) -> QrMessage | None:
    if not raw:
        return None
    data = json.loads(raw)
    return QrMessage(channel=data["channel"], ts=data["ts"], file_id=data.get("file"))


def _record(user: str, fields: dict[bytes, bytes], qr_raw: Any) -> TokenRecord | None:
    if b"state" not in fields:
        return None
    reminded = frozenset(
        int(name[4:]) for name in fields if name.startswith(b"rem:") and name[4:].isdigit()
    )
    return TokenRecord(
        user=user,
        state=TokenState(fields[b"state"].decode()),
        enrolment_id=fields.get(b"eid", b"").decode(),
        sealed_secret=fields.get(b"secret", b""),
        created_at=_time(fields, b"created") or from_ms(0),
        pending_until=_time(fields, b"pending_until"),
        activated_at=_time(fields, b"activated"),
        expires_at=_time(fields, b"expires"),
        last_used_at=_time(fields, b"last_used"),
        last_step=int(fields.get(b"last_step", b"-1")),
        failures=int(fields.get(b"failures", b"0")),
        failures_since=_time(fields, b"fail_since"),
        locked_until=_time(fields, b"locked_until"),
        revoked_at=_time(fields, b"revoked_at"),
        revoked_reason=fields.get(b"revoked_reason", b"").decode(),
        qr=_qr(qr_raw),
        reminded=reminded,
    )


def _ms(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


class RedisTokenStore:
    """`TokenStore` on Redis; every write is one Lua script, so each method is atomic."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._begin = redis.register_script(_BEGIN)
        self._attach_qr = redis.register_script(_ATTACH_QR)
        self._attempt = redis.register_script(_ATTEMPT)
        self._revoke = redis.register_script(_REVOKE)
        self._extend = redis.register_script(_EXTEND)
        self._unlock = redis.register_script(_UNLOCK)
        self._drop_pending = redis.register_script(_DROP_PENDING)
        self._claim_reminder = redis.register_script(_CLAIM_REMINDER)

    def _four(self, user: str) -> list[str]:
        k, n = self._keys, shard_of(user)
        return [k.totp_token(user), k.totp_qr(n), k.totp_pending(n), k.totp_expiry(n)]

    async def get(self, user: str) -> TokenRecord | None:
        with store_errors("reading an Approval Token"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.hgetall(self._keys.totp_token(user))
            pipe.hget(self._keys.totp_qr(shard_of(user)), user)
            fields, qr_raw = await pipe.execute()
        return _record(user, fields, qr_raw)

    async def begin_enrolment(self, enrolment: NewEnrolment) -> EnrolmentSwap:
        now = to_ms(enrolment.created_at)
        until = to_ms(enrolment.pending_until)
        # Never let Redis drop the hash before the service considers the enrolment over.
        ttl = max(PENDING_ENROLMENT_TTL * 1000, until - now)
        with store_errors("starting an Approval Token enrolment"):
            reply = await self._begin(
                keys=[*self._four(enrolment.user), self._keys.totp_users(shard_of(enrolment.user))],
                args=[
                    enrolment.user,
                    enrolment.enrolment_id,
                    enrolment.sealed_secret,
                    now,
                    until,
                    ttl,
                ],
            )
        if _text(reply[0]) == "locked":
            return EnrolmentSwap(locked_until=from_ms(int(reply[1])))
        previous = _text(reply[1])
        return EnrolmentSwap(
            previous_state=TokenState(previous) if previous else None,
            replaced_qr=_qr(reply[2]),
        )

    async def attach_qr(self, user: str, enrolment_id: str, qr: QrMessage) -> bool:
        document = json.dumps(
            {"eid": enrolment_id, "channel": qr.channel, "ts": qr.ts, "file": qr.file_id}
        )
        with store_errors("recording the enrolment message"):
            stored = await self._attach_qr(
                keys=[self._keys.totp_token(user), self._keys.totp_qr(shard_of(user))],
                args=[user, enrolment_id, document],
            )
        return bool(stored)

    async def attempt(
        self,
        user: str,
        enrolment_id: str,
        purpose: Purpose,
        step: int | None,
        now: datetime,
        rules: AttemptRules,
    ) -> AttemptResult:
        with store_errors("checking an Approval Token code"):
            reply = await self._attempt(
                keys=self._four(user),
                args=[
                    user,
                    enrolment_id,
                    purpose.value,
                    -1 if step is None else step,
                    to_ms(now),
                    _ms(rules.failure_window),
                    rules.max_failures,
                    _ms(rules.lockout),
                    _ms(rules.validity),
                ],
            )
        locked = int(reply[2])
        activated = len(reply) > 3  # an accepted activation adds the expiry and the QR message
        return AttemptResult(
            outcome=Outcome(_text(reply[0])),
            failures=int(reply[1]),
            locked_until=from_ms(locked) if locked else None,
            expires_at=from_ms(int(reply[3])) if activated else None,
            qr=_qr(reply[4]) if activated else None,
        )

    async def revoke(self, user: str, now: datetime, reason: str) -> Revocation | None:
        with store_errors("revoking an Approval Token"):
            reply = await self._revoke(keys=self._four(user), args=[user, to_ms(now), reason])
        if reply is None:
            return None
        return Revocation(previous_state=TokenState(_text(reply[0])), qr=_qr(reply[1]))

    async def extend(self, user: str, by: timedelta, now: datetime) -> datetime | None:
        with store_errors("extending an Approval Token"):
            reply = await self._extend(
                keys=[self._keys.totp_token(user), self._keys.totp_expiry(shard_of(user))],
                args=[user, to_ms(now), _ms(by)],
            )
        return None if reply is None else from_ms(int(reply))

    async def unlock(self, user: str) -> bool:
        with store_errors("unlocking an Approval Token"):
            done = await self._unlock(keys=[self._keys.totp_token(user)], args=[])
        return bool(done)

    async def expire_pending(self, now: datetime) -> list[ExpiredEnrolment]:
        now_ms = to_ms(now)
        with store_errors("expiring pending enrolments"):
            due = await self._across_shards(
                lambda pipe, n: pipe.zrangebyscore(self._keys.totp_pending(n), "-inf", now_ms)
            )
            expired: list[ExpiredEnrolment] = []
            for user in due:
                n = shard_of(user)
                reply = await self._drop_pending(
                    keys=[
                        self._keys.totp_token(user),
                        self._keys.totp_qr(n),
                        self._keys.totp_pending(n),
                        self._keys.totp_users(n),
                    ],
                    args=[user, now_ms],
                )
                if reply is not None:  # None: another process took it, or it was re-enrolled
                    expired.append(ExpiredEnrolment(user=user, qr=_qr(reply[0])))
        return expired

    async def expiring(self, after: datetime, until: datetime) -> list[TokenRecord]:
        with store_errors("listing expiring Approval Tokens"):
            users = await self._across_shards(
                lambda pipe, n: pipe.zrangebyscore(
                    self._keys.totp_expiry(n), f"({to_ms(after)}", to_ms(until)
                )
            )
            records = await self._records(users)
        # The index is only a hint: keep what is still active with an expiry in range, soonest
        # first (the order one index would give).
        due = [
            r
            for r in records
            if r.state is TokenState.ACTIVE
            and r.expires_at is not None
            and after < r.expires_at <= until
        ]
        return sorted(due, key=lambda r: (r.expires_at, r.user))

    async def list_all(self) -> list[TokenRecord]:
        # One SMEMBERS per shard, then the hashes in pipelined batches: a few round trips for
        # hundreds of users instead of one each.
        with store_errors("listing Approval Tokens"):
            users = await self._across_shards(
                lambda pipe, n: pipe.smembers(self._keys.totp_users(n))
            )
            return await self._records(sorted(users))

    async def _across_shards(self, read: Callable[[Any, int], Any]) -> list[str]:
        """One pipelined read per shard of a user index; the members of all, in shard order."""
        pipe = self._redis.pipeline(transaction=False)
        for n in shards():
            read(pipe, n)
        replies = await pipe.execute()
        return [_text(member) for reply in replies for member in reply]

    async def _records(self, users: list[str]) -> list[TokenRecord]:
        """The records of these users, in their order, skipping any whose hash has gone (a
        pending hash that expired by its TTL); pipelined in batches of _LIST_BATCH."""
        records: list[TokenRecord] = []
        for start in range(0, len(users), _LIST_BATCH):
            batch = users[start : start + _LIST_BATCH]
            pipe = self._redis.pipeline(transaction=False)
            for user in batch:
                pipe.hgetall(self._keys.totp_token(user))
                pipe.hget(self._keys.totp_qr(shard_of(user)), user)
            replies = await pipe.execute()
            for i, user in enumerate(batch):
                record = _record(user, replies[2 * i], replies[2 * i + 1])
                if record is not None:
                    records.append(record)
        return records

    async def claim_reminder(self, user: str, expires_at: datetime, days_before: int) -> bool:
        with store_errors("claiming an expiry reminder"):
            won = await self._claim_reminder(
                keys=[self._keys.totp_token(user)], args=[to_ms(expires_at), days_before]
            )
        return bool(won)
