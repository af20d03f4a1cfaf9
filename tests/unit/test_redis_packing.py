"""Commands packed by hiredis go out byte for byte as redis-py would pack them."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from bot.stores.client import (
    PackedConnection,
    PackedSSLConnection,
    PackedUnixConnection,
    connect_redis,
    redis_endpoint,
)

COMMANDS: list[tuple[Any, ...]] = [
    ("HGETALL", "approvals:req:AR-7K3Q"),
    ("SET", "k", 1.5, "EX", 10, "NX"),
    ("HSET", "k", "name", "Zoë Ñandú ✓", "n", -7, "f", 1e20, "g", 0.1),
    ("EVALSHA", "ab" * 20, 2, "{audit}:stream", "{audit}:head", *[f"v{i}" * 40 for i in range(40)]),
    ("SET", b"bytes-key", b"\x00\xff\r\n binary"),
    ("SET", "big", "x" * 200_000),  # past redis-py's buffer cutoff: it sends it in chunks
    ("CONFIG GET", "maxmemory"),  # two words in the name: redis-py splits them
    (b"CLIENT SETNAME", b"bot"),
    ("SET", "view", memoryview(b"abc")),
    ("SET", "array", bytearray(b"abc")),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_the_same_bytes_as_redis_py(command: tuple[Any, ...]) -> None:
    ours = b"".join(bytes(part) for part in PackedConnection().pack_command(*command))
    theirs = b"".join(bytes(part) for part in Connection().pack_command(*command))
    assert ours == theirs


@pytest.mark.parametrize("value", [True, None, object()])
def test_what_redis_py_refuses_is_refused(value: object) -> None:
    with pytest.raises(DataError):
        PackedConnection().pack_command("SET", "k", value)


@pytest.mark.parametrize(
    ("url", "packed"),
    [
        ("redis://127.0.0.1:6379/0", PackedConnection),
        ("rediss://127.0.0.1:6379/0", PackedSSLConnection),
        ("unix:///run/redis.sock", PackedUnixConnection),
    ],
)
def test_every_kind_of_server_url_gets_the_packed_connection(url: str, packed: type) -> None:
    client = connect_redis(redis_endpoint(url))
    assert client.connection_pool.connection_class is packed  # type: ignore[union-attr]


async def test_commands_and_scripts_round_trip(redis_url: str) -> None:
    client = connect_redis(redis_endpoint(redis_url))
    try:
        await client.hset("packed", mapping={"name": "Zoë", "n": 3, "f": 0.5})
        assert await client.hgetall("packed") == {b"name": "Zoë".encode(), b"n": b"3", b"f": b"0.5"}
        echo = client.register_script("return ARGV")
        assert await echo(keys=["packed"], args=["a", 2, "é"]) == [b"a", b"2", "é".encode()]
    finally:
        await client.delete("packed")
        await client.aclose()
