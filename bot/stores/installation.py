"""Whether the Slack token in use still works, shared by every process (`Installation`).

Keyed by a fingerprint of the bot token: a new token (the app installed again) is a new key,
so jobs post again without anyone clearing a flag, and the token itself never rests here."""

from __future__ import annotations

import hashlib

from bot.stores._boundary import store_errors
from bot.stores.client import RedisClient
from bot.stores.keys import Keys


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class RedisInstallation:
    def __init__(self, redis: RedisClient, keys: Keys, token: str) -> None:
        self._redis = redis
        self._key = keys.slack_removed(token_fingerprint(token))

    async def mark_removed(self, reason: str) -> bool:
        with store_errors("recording that the Slack app was removed"):
            return bool(await self._redis.set(self._key, reason, nx=True))

    async def removed(self) -> str | None:
        with store_errors("reading whether the Slack app was removed"):
            value = await self._redis.get(self._key)
        return value.decode() if isinstance(value, bytes) else value
