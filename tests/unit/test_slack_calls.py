"""JSON Web API calls sent on the client's session mean what slack_sdk's calls meant: the same
request, its answer checked, 429s waited out, connection failures repeated only when safe."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.slack.calls import JsonCalls
from bot.slack.client import web_client
from bot.slack.failures import slack_error
from services.errors import SlackChannelClosed, UpstreamUnavailable
from tests.raw_http import read_request

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Seen = list[tuple[bytes, bytes]]


def _http(status: str, body: bytes, kind: bytes = b"application/json", extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 "
        + status.encode()
        + b"\r\nContent-Type: "
        + kind
        + b"\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


@asynccontextmanager
async def slack(answers: list[bytes | None], seen: Seen) -> AsyncIterator[JsonCalls]:
    """A Web API on 127.0.0.1 giving `answers` in turn, one connection each (None: read the
    request and hang up), and JsonCalls for a bot client pointed at it."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        reply = answers.pop(0)
        if reply is not None:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    client = web_client("xoxb-test", f"http://127.0.0.1:{port}/api/", session)
    try:
        yield JsonCalls(client, session)
    finally:
        await session.close()
        server.close()
        await server.wait_closed()


async def test_a_call_goes_out_as_json_with_the_token_and_its_answer_comes_back() -> None:
    seen: Seen = []
    ok = _http("200 OK", b'{"ok": true, "ts": "1.2"}')
    async with slack([ok], seen) as calls:
        answer = await calls.call("chat.postMessage", {"channel": "C1", "text": "é"})
    assert answer["ts"] == "1.2" and answer.status_code == 200
    [(head, body)] = seen
    assert head.startswith(b"POST /api/chat.postMessage HTTP/1.1\r\n")
    assert b"\r\nauthorization: bearer xoxb-test\r\n" in head.lower()
    assert b"\r\ncontent-type: application/json;charset=utf-8\r\n" in head.lower()
    assert json.loads(body) == {"channel": "C1", "text": "é"}


async def test_ok_false_is_slack_sdks_error_with_the_code() -> None:
    refused = _http("200 OK", b'{"ok": false, "error": "channel_not_found"}')
    async with slack([refused], []) as calls:
        with pytest.raises(SlackApiError) as raised:
            await calls.call("chat.postMessage", {"channel": "C1", "text": "x"})
    assert isinstance(
        slack_error("chat.postMessage", raised.value, repeatable=False), SlackChannelClosed
    )


async def test_an_answer_that_is_not_json_is_refused() -> None:
    page = _http("200 OK", b"<html>gateway</html>", kind=b"text/html")
    async with slack([page], []) as calls:
        with pytest.raises(SlackApiError):
            await calls.call("chat.update", {"channel": "C1", "ts": "1.2", "text": "x"})


async def test_a_429_is_waited_out_and_the_same_call_sent_again() -> None:
    seen: Seen = []
    limited = _http(
        "429 Too Many Requests",
        b'{"ok": false, "error": "ratelimited"}',
        extra=b"Retry-After: 0\r\n",
    )
    ok = _http("200 OK", b'{"ok": true}')
    async with slack([limited, ok], seen) as calls:
        await calls.call("chat.postMessage", {"channel": "C1", "text": "x"})
    assert len(seen) == 2 and seen[0][1] == seen[1][1]


async def test_a_broken_connection_is_repeated_only_for_a_method_safe_to_repeat() -> None:
    seen: Seen = []
    ok = _http("200 OK", b'{"ok": true}')
    async with slack([None, ok], seen) as calls:
        await calls.call("chat.update", {"channel": "C1", "ts": "1.2", "text": "x"})
    assert len(seen) == 2

    seen.clear()
    async with slack([None, ok], seen) as calls:
        with pytest.raises(aiohttp.ClientError) as raised:
            await calls.call("chat.postMessage", {"channel": "C1", "text": "x"})
    assert len(seen) == 1, "a post is never sent twice blindly"
    error = slack_error("chat.postMessage", raised.value, repeatable=False)
    assert isinstance(error, UpstreamUnavailable) and error.outcome_unknown
