"""Redis adapters for linking: `GrantStore` (sealed grants and two indexes) and `LinkStates`.

Layout (names in bot/stores/keys.py):
    {prefix}{link}:grant:<slack id>   hash; version, account, sealed (the grant, encrypted whole
                                      by the service's SecretBox, never clear), refreshed (ms),
                                      broken ('0' / '1')
    {prefix}{link}:refreshed          zset; slack id scored by last refresh (ms), working grants
    {prefix}{link}:accounts           hash; Atlassian account id -> slack id
    {prefix}oauth:state:<sha256>      string with a TTL (PX); JSON {team, user, created (ms)}

Every write is one Lua script, so it is atomic with its index updates; `replace` is a
compare-and-set on the version. A state is taken with GETDEL, so it works exactly once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from bot.stores._boundary import store_errors
from bot.stores.keys import Keys
from services.linking.models import PendingLink, from_ms, to_ms
from services.linking.ports import LinkWrite, StoredGrant

# KEYS: grant hash, refreshed zset, accounts hash. ARGV: user, account, sealed, refreshed ms.
# Replies {'taken', holder} or {'ok', new version}.
_LINK = """
local holder = redis.call('HGET', KEYS[3], ARGV[2])
if holder and holder ~= ARGV[1] then
  return {'taken', holder}
end
local old = redis.call('HGET', KEYS[1], 'account')
if old and old ~= ARGV[2] then
  redis.call('HDEL', KEYS[3], old)
end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'account', ARGV[2], 'sealed', ARGV[3], 'refreshed', ARGV[4],
  'broken', '0')
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return {'ok', version}
"""

# KEYS: grant hash, refreshed zset. ARGV: user, expected version, sealed, refreshed ms, broken.
# Replies the new version, or nil when the stored version is not the expected one.
_REPLACE = """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[2] then
  return false
end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'sealed', ARGV[3], 'refreshed', ARGV[4], 'broken', ARGV[5])
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return version
"""

# KEYS: grant hash, refreshed zset, accounts hash. ARGV: user.
# Replies the removed fields {version, account, sealed, refreshed, broken}, or nil.
_DELETE = """
local f = redis.call('HMGET', KEYS[1], 'version', 'account', 'sealed', 'refreshed', 'broken')
if not f[1] then
  return false
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[3], f[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[3], f[2])
end
return f
"""

_FIELDS = ("version", "account", "sealed", "refreshed", "broken")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _stored(user_id: str, fields: list[Any]) -> StoredGrant | None:
    version, account, sealed, refreshed, broken = fields
    if version is None or sealed is None:
        return None
    return StoredGrant(
        user_id=user_id,
        account_id=_text(account),
        sealed=bytes(sealed),
        refreshed_at=from_ms(int(refreshed)),
        broken=_text(broken) == "1",
        version=int(version),
    )


class RedisGrantStore:
    """`GrantStore` on Redis."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._link = redis.register_script(_LINK)
        self._replace = redis.register_script(_REPLACE)
        self._delete = redis.register_script(_DELETE)

    async def get(self, user_id: str) -> StoredGrant | None:
        with store_errors("reading an Atlassian link"):
            fields = await self._redis.hmget(self._keys.link_grant(user_id), list(_FIELDS))
        return _stored(user_id, fields)

    async def link(self, grant: StoredGrant) -> LinkWrite:
        k = self._keys
        with store_errors("storing an Atlassian link"):
            reply = await self._link(
                keys=[k.link_grant(grant.user_id), k.link_refreshed(), k.link_accounts()],
                args=[grant.user_id, grant.account_id, grant.sealed, to_ms(grant.refreshed_at)],
            )
        if _text(reply[0]) == "taken":
            return LinkWrite(held_by=_text(reply[1]))
        return LinkWrite(version=int(reply[1]))

    async def replace(self, grant: StoredGrant, expected_version: int) -> int | None:
        k = self._keys
        with store_errors("updating an Atlassian link"):
            reply = await self._replace(
                keys=[k.link_grant(grant.user_id), k.link_refreshed()],
                args=[
                    grant.user_id,
                    expected_version,
                    grant.sealed,
                    to_ms(grant.refreshed_at),
                    "1" if grant.broken else "0",
                ],
            )
        return None if reply is None else int(reply)

    async def delete(self, user_id: str) -> StoredGrant | None:
        k = self._keys
        with store_errors("removing an Atlassian link"):
            reply = await self._delete(
                keys=[k.link_grant(user_id), k.link_refreshed(), k.link_accounts()], args=[user_id]
            )
        return None if reply is None else _stored(user_id, list(reply))

    async def idle(self, refreshed_before: datetime, limit: int) -> list[str]:
        with store_errors("listing idle Atlassian links"):
            users = await self._redis.zrangebyscore(
                self._keys.link_refreshed(),
                "-inf",
                f"({to_ms(refreshed_before)}",
                start=0,
                num=limit,
            )
        return [_text(user) for user in users]

    async def holder(self, account_id: str) -> str | None:
        with store_errors("reading an Atlassian link"):
            user = await self._redis.hget(self._keys.link_accounts(), account_id)
        return None if user is None else _text(user)

    async def list_all(self) -> list[StoredGrant]:
        # The accounts hash names every linked user (broken links keep their entry), so one
        # HVALS and one pipeline of HMGETs read them all.
        with store_errors("listing Atlassian links"):
            users = sorted(_text(u) for u in await self._redis.hvals(self._keys.link_accounts()))
            if not users:
                return []
            pipe = self._redis.pipeline(transaction=False)
            for user in users:
                pipe.hmget(self._keys.link_grant(user), list(_FIELDS))
            replies = await pipe.execute()
        stored = (_stored(user, fields) for user, fields in zip(users, replies, strict=True))
        return [grant for grant in stored if grant is not None]


class RedisLinkStates:
    """`LinkStates` on Redis: SET EX to issue, GETDEL to take (atomic, so single use)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def _key(self, state: str) -> str:
        return self._keys.oauth_state(hashlib.sha256(state.encode()).hexdigest())

    async def put(self, state: str, pending: PendingLink, ttl_seconds: float) -> None:
        document = json.dumps(
            {"team": pending.team_id, "user": pending.user_id, "created": to_ms(pending.created_at)}
        )
        with store_errors("saving a sign-in state"):
            await self._redis.set(self._key(state), document, px=max(1, int(ttl_seconds * 1000)))

    async def take(self, state: str) -> PendingLink | None:
        with store_errors("checking a sign-in state"):
            raw = await self._redis.getdel(self._key(state))
        if raw is None:
            return None
        data = json.loads(raw)
        return PendingLink(
            team_id=str(data["team"]),
            user_id=str(data["user"]),
            created_at=from_ms(data["created"]),
        )
