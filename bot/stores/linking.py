"""Redis adapters for linking: `GrantStore` (sealed grants and two indexes) and `LinkStates`.

Layout (names and hash tags in bot/stores/keys.py; n = shard_of(slack id), one of SHARDS):
    {prefix}{user:n}:link:<slack id>  hash; version, account, sealed (the grant, encrypted whole
                                      by the service's SecretBox, never clear), refreshed (ms),
                                      broken ('0' / '1')
    {prefix}{user:n}:link-refreshed   zset; slack id scored by last refresh (ms), working grants
    {prefix}{accounts}:registry       hash; 'a:<Atlassian account id>' -> slack id and
                                      'u:<slack id>' -> account id, for every linked person
    {prefix}oauth:state:<sha256>      string with a TTL (PX); JSON {team, user, created (ms)}

A grant and its shard of the refresh index share a slot, so `replace` (a compare-and-set on the
version) is one Lua script. One account links one person, a rule across users, so the account
registry is an aggregate of its own, in its own slot, and a link is two atomic steps: claim the
account in the registry (refused while another person holds it), then write the grant. Unlinking
goes the other way: drop the grant, then free the account. A crash between the steps can only
leave the registry naming a person whose grant is gone (they can link again, the listing skips
them), never one account with two people.

A state is taken with GETDEL, so it works exactly once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from bot.stores._boundary import store_errors
from bot.stores.client import RedisClient
from bot.stores.keys import Keys, shard_of, shards
from services.linking.models import PendingLink, from_ms, to_ms
from services.linking.ports import LinkWrite, StoredGrant

# KEYS: registry. ARGV: user, account. Replies {'taken', holder} or {'ok', ''}.
_CLAIM = """
local holder = redis.call('HGET', KEYS[1], 'a:' .. ARGV[2])
if holder and holder ~= ARGV[1] then
  return {'taken', holder}
end
local old = redis.call('HGET', KEYS[1], 'u:' .. ARGV[1])
if old and old ~= ARGV[2] and redis.call('HGET', KEYS[1], 'a:' .. old) == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'a:' .. old)
end
redis.call('HSET', KEYS[1], 'a:' .. ARGV[2], ARGV[1], 'u:' .. ARGV[1], ARGV[2])
return {'ok', ''}
"""

# KEYS: registry. ARGV: user. Frees the account this user holds, if any.
_FREE = """
local account = redis.call('HGET', KEYS[1], 'u:' .. ARGV[1])
if not account then
  return 0
end
redis.call('HDEL', KEYS[1], 'u:' .. ARGV[1])
if redis.call('HGET', KEYS[1], 'a:' .. account) == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'a:' .. account)
end
return 1
"""

# KEYS: grant hash, refreshed zset. ARGV: user, account, sealed, refreshed ms.
# Replies the new version.
_LINK = """
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'account', ARGV[2], 'sealed', ARGV[3], 'refreshed', ARGV[4],
  'broken', '0')
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return version
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

# KEYS: grant hash, refreshed zset. ARGV: user.
# Replies the removed fields {version, account, sealed, refreshed, broken}, or nil.
_DELETE = """
local f = redis.call('HMGET', KEYS[1], 'version', 'account', 'sealed', 'refreshed', 'broken')
if not f[1] then
  return false
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
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

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._claim = redis.register_script(_CLAIM)
        self._free = redis.register_script(_FREE)
        self._link = redis.register_script(_LINK)
        self._replace = redis.register_script(_REPLACE)
        self._delete = redis.register_script(_DELETE)

    def _two(self, user_id: str) -> list[str]:
        return [self._keys.link_grant(user_id), self._keys.link_refreshed(shard_of(user_id))]

    async def get(self, user_id: str) -> StoredGrant | None:
        with store_errors("reading an Atlassian link"):
            fields = await self._redis.hmget(self._keys.link_grant(user_id), list(_FIELDS))
        return _stored(user_id, fields)

    async def link(self, grant: StoredGrant) -> LinkWrite:
        with store_errors("storing an Atlassian link"):
            claim = await self._claim(
                keys=[self._keys.link_accounts()], args=[grant.user_id, grant.account_id]
            )
            if _text(claim[0]) == "taken":
                return LinkWrite(held_by=_text(claim[1]))
            version = await self._link(
                keys=self._two(grant.user_id),
                args=[grant.user_id, grant.account_id, grant.sealed, to_ms(grant.refreshed_at)],
            )
        return LinkWrite(version=int(version))

    async def replace(self, grant: StoredGrant, expected_version: int) -> int | None:
        with store_errors("updating an Atlassian link"):
            reply = await self._replace(
                keys=self._two(grant.user_id),
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
        with store_errors("removing an Atlassian link"):
            reply = await self._delete(keys=self._two(user_id), args=[user_id])
            # Freed even when the grant had gone already (a crash between the two steps).
            await self._free(keys=[self._keys.link_accounts()], args=[user_id])
        return None if reply is None else _stored(user_id, list(reply))

    async def idle(self, refreshed_before: datetime, limit: int) -> list[str]:
        # Each shard's oldest `limit`, merged: the `limit` oldest of all, as one index gives.
        with store_errors("listing idle Atlassian links"):
            pipe = self._redis.pipeline(transaction=False)
            for n in shards():
                pipe.zrangebyscore(
                    self._keys.link_refreshed(n),
                    "-inf",
                    f"({to_ms(refreshed_before)}",
                    start=0,
                    num=limit,
                    withscores=True,
                )
            replies = await pipe.execute()
        merged = sorted((score, _text(user)) for reply in replies for user, score in reply)
        return [user for _, user in merged[:limit]]

    async def holder(self, account_id: str) -> str | None:
        with store_errors("reading an Atlassian link"):
            user = await self._redis.hget(self._keys.link_accounts(), f"a:{account_id}")
        return None if user is None else _text(user)

    async def list_all(self) -> list[StoredGrant]:
        # The registry names every linked user (broken links keep their entry), so one HGETALL
        # and one pipeline of HMGETs read them all.
        with store_errors("listing Atlassian links"):
            registry = await self._redis.hgetall(self._keys.link_accounts())
            users = sorted(_text(name)[2:] for name in registry if _text(name).startswith("u:"))
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

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
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
