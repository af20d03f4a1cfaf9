"""The store's connections: lent and taken back as redis-py's pool does; writes time out as its."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio.connection import parse_url
from redis.event import (
    AsyncAfterConnectionReleasedEvent,
    AsyncEventListenerInterface,
    EventDispatcher,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.stores.client import PackedConnection, UnmeteredPool, connect_redis, redis_endpoint
from testkit.redis_server import free_port


def _pool(url: str, **options: Any) -> UnmeteredPool:
    settings: dict[str, Any] = parse_url(url) | {
        "connection_class": PackedConnection,
        "socket_timeout": 5,
    }
    return UnmeteredPool(**settings, **options)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "unix:///run/redis.sock"])
def test_a_single_server_gets_the_unmetered_pool(url: str) -> None:
    client = connect_redis(redis_endpoint(url))
    assert type(client.connection_pool) is UnmeteredPool  # type: ignore[union-attr]


async def test_every_connection_comes_back_after_commands_at_once(redis_url: str) -> None:
    client = connect_redis(redis_endpoint(redis_url))
    pool = client.connection_pool  # type: ignore[union-attr]
    try:
        await asyncio.gather(*(client.set(f"pool:{i}", i) for i in range(10)))
        pipe = client.pipeline(transaction=False)
        for i in range(10):
            pipe.get(f"pool:{i}")
        assert await pipe.execute() == [str(i).encode() for i in range(10)]
        assert not pool._in_use_connections
        assert 1 <= len(pool._available_connections) <= 10
    finally:
        await client.delete(*(f"pool:{i}" for i in range(10)))
        await client.aclose()


async def test_a_connection_is_reused_and_one_marked_for_reconnect_is_renewed(
    redis_url: str,
) -> None:
    pool = _pool(redis_url)
    try:
        first = await pool.get_connection()
        await pool.release(first)
        again = await pool.get_connection()
        assert again is first and again.is_connected
        reader = again._reader
        again.mark_for_reconnect()  # type: ignore[no-untyped-call]
        await pool.release(again)
        assert not again.is_connected  # disconnected on return, connected afresh when next lent
        renewed = await pool.get_connection()
        assert renewed is again and renewed.is_connected and renewed._reader is not reader
        await pool.release(renewed)
    finally:
        await pool.disconnect()


async def test_a_connection_that_cannot_connect_is_taken_back() -> None:
    pool = _pool(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RedisConnectionError):
        await pool.get_connection()
    assert not pool._in_use_connections
    assert len(pool._available_connections) == 1


async def test_a_release_is_announced_to_the_listeners(redis_url: str) -> None:
    heard: list[object] = []

    class Listener(AsyncEventListenerInterface):
        async def listen(self, event: object) -> None:
            heard.append(event.connection)  # type: ignore[attr-defined]

    dispatcher = EventDispatcher()
    dispatcher.register_listeners({AsyncAfterConnectionReleasedEvent: [Listener()]})
    pool = _pool(redis_url, event_dispatcher=dispatcher)
    try:
        connection = await pool.get_connection()
        await pool.release(connection)
        assert heard == [connection]
    finally:
        await pool.disconnect()


class _StopsReading:
    """A server that answers +OK to each command until it gets `stop-reading`, then reads
    nothing more: a client's writes pile up in the socket buffers."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if b"stop-reading" in data:
                await asyncio.Event().wait()
            writer.write(b"+OK\r\n" * data.count(b"*"))

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()


STOP_READING = [b"*1\r\n$12\r\nstop-reading\r\n"]


async def test_a_write_the_server_does_not_take_times_out_and_drops_the_connection() -> None:
    async with _StopsReading() as port:
        connection = PackedConnection(port=port, socket_timeout=0.3, socket_connect_timeout=5)
        await connection.connect()  # type: ignore[no-untyped-call]
        await connection.send_packed_command(STOP_READING)
        with pytest.raises(RedisTimeoutError, match="Timeout writing to socket"):
            await connection.send_packed_command([b"x" * (64 << 20)], check_health=False)
        assert not connection.is_connected


async def test_a_write_on_a_lost_connection_is_a_connection_error_and_drops_it() -> None:
    async with _StopsReading() as port:
        connection = PackedConnection(port=port, socket_timeout=5, socket_connect_timeout=5)
        await connection.connect()  # type: ignore[no-untyped-call]
        connection._writer.transport.abort()  # type: ignore[union-attr]
        await asyncio.sleep(0.05)  # the loop tells the stream the connection is lost
        with pytest.raises(RedisConnectionError, match="while writing to socket"):
            await connection.send_packed_command(STOP_READING, check_health=False)
        assert not connection.is_connected
