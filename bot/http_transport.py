"""httpx requests carried by aiohttp: httpx's API and errors, aiohttp's C parser and pool.

The ApprovalFlow client speaks httpx (its error boundary maps httpx's exceptions). httpx's own
transport (httpcore, h11, anyio) parses every answer in Python and cost a seventh of the bot's
CPU per approval (bench/approve.py --py-spy); aiohttp does the same work in C. Each aiohttp
failure is raised as the httpx exception that means the same for the caller: above all, whether
the request may have reached the server (a submit's outcome is then unknown).
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx

# Most specific first: `httpx_error` walks an exception's MRO, so a class aiohttp adds later
# still lands on its parent's meaning. Never connected -> ConnectError (nothing was sent);
# anything after the request left -> an error the boundary treats as possibly delivered.
AIOHTTP_ERRORS: dict[type[BaseException], type[httpx.TransportError]] = {
    aiohttp.ConnectionTimeoutError: httpx.ConnectTimeout,
    aiohttp.SocketTimeoutError: httpx.ReadTimeout,
    aiohttp.ServerTimeoutError: httpx.ReadTimeout,
    aiohttp.ClientConnectorError: httpx.ConnectError,
    aiohttp.ClientProxyConnectionError: httpx.ProxyError,
    aiohttp.ServerDisconnectedError: httpx.RemoteProtocolError,
    aiohttp.ServerFingerprintMismatch: httpx.ConnectError,
    aiohttp.ClientPayloadError: httpx.ReadError,
    aiohttp.ClientResponseError: httpx.RemoteProtocolError,
    aiohttp.ClientConnectionResetError: httpx.WriteError,
    aiohttp.ClientOSError: httpx.ReadError,
    aiohttp.ClientConnectionError: httpx.NetworkError,
    aiohttp.InvalidURL: httpx.UnsupportedProtocol,
    aiohttp.ClientError: httpx.TransportError,
    asyncio.TimeoutError: httpx.ReadTimeout,
}


def httpx_error(exc: BaseException) -> type[httpx.TransportError] | None:
    """The httpx exception class an aiohttp failure stands for (None: not a transport failure)."""
    for cls in type(exc).__mro__:
        mapped = AIOHTTP_ERRORS.get(cls)
        if mapped is not None:
            return mapped
    return None


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's per-request timeouts (connect, read, pool) as aiohttp's."""
    given: dict[str, float | None] = request.extensions.get("timeout") or {}
    connect, pool = given.get("connect"), given.get("pool")
    waiting = None if connect is None or pool is None else connect + pool
    return aiohttp.ClientTimeout(
        total=None, connect=waiting, sock_connect=connect, sock_read=given.get("read")
    )


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp session, created on first use (inside the loop)."""

    def __init__(self, *, connections: int, keepalive_seconds: float = 30.0) -> None:
        self._connections = connections
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._connections, keepalive_timeout=self._keepalive_seconds
                ),
                # httpx decodes the body by its Content-Encoding, as with its own transport.
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open()
        body = await request.aread()
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=_timeout(request),
            ) as answer:
                content = await answer.read()
                status, headers, reason = answer.status, answer.raw_headers, answer.reason
        except Exception as exc:
            mapped = httpx_error(exc)
            if mapped is None:
                raise
            raise mapped(f"{type(exc).__name__}: {exc}", request=request) from exc
        # The reason phrase as sent: httpx would otherwise look it up for every call's log line.
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": (reason or "").encode()}
        return httpx.Response(
            status, headers=list(headers), content=content, request=request, extensions=extensions
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
