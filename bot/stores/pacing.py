"""`RedisPaceSlots`: the next free moment of each pacing lane, shared by every bot process."""

from __future__ import annotations

from bot.stores._boundary import store_errors
from bot.stores.client import RedisClient
from bot.stores.keys import Keys

# One key per lane (so any slot of a cluster will do), holding the lane's next free moment in
# ms on the store's own clock (TIME), which every process shares whatever its own clock says.
# The slot taken is the later of now + not_before and that moment; the next one is an interval
# after it. The key lives only until then: an idle lane leaves nothing behind.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now + tonumber(ARGV[2]), free)
local after = at + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.max(1, after - now))
return at - now
"""


class RedisPaceSlots:
    """`PaceSlots` (bot/slack/pacing.py): one round trip per send."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._keys = keys
        self._reserve = redis.register_script(_RESERVE)

    async def reserve(self, lane: str, interval: float, not_before: float) -> float:
        with store_errors("taking a Slack pacing slot"):
            wait_ms = await self._reserve(
                keys=[self._keys.pace(lane)],
                args=[max(0, round(interval * 1000)), max(0, round(not_before * 1000))],
            )
        return int(wait_ms) / 1000
