"""The aiohttp exchange: every aiohttp failure mapped, bodies, headers and timeouts intact."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import httpx
import pytest

from bot.http_transport import AIOHTTP_ERRORS, AiohttpExchange, httpx_error
from services.approvalflow import boundary
from services.approvalflow.exchange import Timeouts
from services.outbound_tls import shared_tls_context
from testkit.redis_server import free_port
from tests.raw_http import read_request

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _aiohttp_exceptions() -> list[type[BaseException]]:
    return [
        value
        for value in vars(aiohttp).values()
        if inspect.isclass(value) and issubclass(value, aiohttp.ClientError)
    ]


def test_every_aiohttp_exception_maps_to_an_httpx_one_the_boundary_knows() -> None:
    classes = _aiohttp_exceptions()
    assert len(classes) > 20  # the walk found aiohttp's exceptions
    for cls in [*classes, asyncio.TimeoutError]:
        mapped = next(AIOHTTP_ERRORS[c] for c in cls.__mro__ if c in AIOHTTP_ERRORS)
        assert issubclass(mapped, httpx.HTTPError), cls
        boundary.transport_rule(mapped)  # raises for a class the boundary cannot map


@pytest.mark.parametrize(
    ("failure", "delivered"),
    [
        # Never connected: nothing reached the server, a submit may be tried again.
        (aiohttp.ConnectionTimeoutError(), False),
        (aiohttp.ClientConnectorError(None, OSError(111, "refused")), False),  # type: ignore[arg-type]
        # The request left: a submit's outcome is unknown.
        (aiohttp.SocketTimeoutError(), True),
        (aiohttp.ServerDisconnectedError(), True),
        (aiohttp.ClientPayloadError(), True),
        (aiohttp.ClientOSError(104, "reset"), True),
    ],
)
def test_whether_a_failure_may_have_delivered_the_request(
    failure: BaseException, delivered: bool
) -> None:
    mapped = httpx_error(failure)
    assert mapped is not None
    assert boundary.transport_rule(mapped).delivered is delivered


def test_a_bug_is_not_taken_for_a_transport_failure() -> None:
    assert httpx_error(KeyError("x")) is None


@asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[str]:
    """A TCP server that answers each connection with `answer` (raw bytes, any behaviour)."""
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def exchange() -> AsyncIterator[AiohttpExchange]:
    carrier = AiohttpExchange(connections=4, tls=shared_tls_context())
    try:
        yield carrier
    finally:
        await carrier.aclose()


WAIT = Timeouts(connect_seconds=5, read_seconds=5)


async def test_a_post_goes_out_whole_and_a_gzip_answer_is_decoded() -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        body = gzip.compress(json.dumps({"ok": True, "pages": [1, 2]}).encode())
        writer.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nX-Trace: a\r\nX-Trace: b\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()

    async with raw_server(answer) as url, exchange() as carrier:
        response = await carrier.send(
            "POST",
            f"{url}/changeSets/submit",
            headers={"Authorization": "Bearer t0ken", "Content-Type": "application/json"},
            query={"x": "1"},
            body=json.dumps({"changeSetId": "cs-1"}).encode(),
            timeouts=WAIT,
        )
    assert response.status_code == 201
    assert json.loads(response.content) == {"ok": True, "pages": [1, 2]}
    assert response.headers.getall("x-trace") == ["a", "b"]
    assert response.headers.get("CONTENT-TYPE") == "application/json"
    [(head, body)] = seen
    assert head.startswith(b"POST /changeSets/submit?x=1 HTTP/1.1\r\n")
    assert b"\r\nauthorization: bearer t0ken\r\n" in head.lower()
    assert json.loads(body) == {"changeSetId": "cs-1"}


async def test_a_server_that_hangs_up_after_the_request_is_a_possible_delivery() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()  # read it, then gone without a word

    async with raw_server(answer) as url, exchange() as carrier:
        with pytest.raises(httpx.RemoteProtocolError):
            await carrier.send(
                "POST",
                f"{url}/changeSets/submit",
                headers={},
                query=None,
                body=b"{}",
                timeouts=WAIT,
            )


async def test_a_slow_answer_is_a_read_timeout() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(1)
        writer.close()

    async with raw_server(answer) as url, exchange() as carrier:
        with pytest.raises(httpx.ReadTimeout):
            await carrier.send(
                "GET",
                f"{url}/changeSets",
                headers={},
                query=None,
                body=None,
                timeouts=Timeouts(connect_seconds=5, read_seconds=0.2),
            )


async def test_no_connection_is_a_connect_error_nothing_was_sent() -> None:
    port = free_port()
    async with exchange() as carrier:
        with pytest.raises(httpx.ConnectError):
            await carrier.send(
                "POST",
                f"http://127.0.0.1:{port}/changeSets/submit",
                headers={},
                query=None,
                body=b"{}",
                timeouts=WAIT,
            )
