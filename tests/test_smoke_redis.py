"""The throwaway redis-server fixture answers."""

from redis.asyncio import Redis


async def test_redis_answers(redis: Redis) -> None:
    assert await redis.ping()
