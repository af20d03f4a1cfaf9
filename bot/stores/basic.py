"""Redis adapters for the foundation ports: health, leases and bookmarks."""

from __future__ import annotations

from bot.stores._boundary import store_errors
from bot.stores.client import RedisClient
from bot.stores.keys import Keys

# Release or extend a lease only when the caller still holds it (atomic compare-and-act).
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisHealth:
    """Pings Redis."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def ping(self) -> bool:
        with store_errors("pinging"):
            return bool(await self._redis.ping())


class RedisLeases:
    """Owner-bound leases with a PX expiry."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        with store_errors("taking a lease"):
            got = await self._acquire(
                keys=[self._keys.lease(name)], args=[owner, max(1, int(ttl_seconds * 1000))]
            )
        return bool(got)

    async def release(self, name: str, owner: str) -> bool:
        with store_errors("releasing a lease"):
            gone = await self._release(keys=[self._keys.lease(name)], args=[owner])
        return bool(gone)


class RedisBookmark:
    """`Bookmark` (services/workspace.py): one named string, shared by every process."""

    def __init__(self, redis: RedisClient, keys: Keys, name: str) -> None:
        self._redis = redis
        self._key = keys.bookmark(name)

    async def get(self) -> str:
        with store_errors("reading a bookmark"):
            value = await self._redis.get(self._key)
        return value.decode() if isinstance(value, bytes) else str(value or "")

    async def set(self, value: str) -> None:
        with store_errors("writing a bookmark"):
            await self._redis.set(self._key, value)
