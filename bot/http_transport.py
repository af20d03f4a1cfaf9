"""Our Atlassian clients' HTTP carried by aiohttp alone: its C parser and pool, one layer.

`AiohttpExchange` is the clients' `Exchange` port (services/approvalflow/exchange.py). httpx's
own transport parsed every answer in Python, and httpx over aiohttp still built each request and
answer twice; a call now costs aiohttp's work and little else (bench/approve.py --py-spy). Each
aiohttp failure is raised as the httpx exception that means the same for the caller, which the
clients' boundaries map: above all, whether the request may have reached the server (a submit's
outcome is then unknown).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from multidict import CIMultiDictProxy

from services.approvalflow.exchange import Timeouts

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


def client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """A call's timeouts as aiohttp's: `connect` covers waiting for a free connection (as long
    as a read may take) and opening one; each read of the answer gets `read_seconds`."""
    return aiohttp.ClientTimeout(
        total=None,
        connect=timeouts.connect_seconds + timeouts.read_seconds,
        sock_connect=timeouts.connect_seconds,
        sock_read=timeouts.read_seconds,
    )


@dataclass(frozen=True, slots=True)
class AiohttpAnswer:
    """An answer read whole (the `Answer` port)."""

    status_code: int
    headers: CIMultiDictProxy[str]
    content: bytes
    charset: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode(self.charset or "utf-8", errors="replace")


class AiohttpExchange:
    """The `Exchange` port over one aiohttp session, created on first use (inside the loop):
    at most `connections` open at once, idle ones kept `keepalive_seconds`, TLS by `tls`."""

    def __init__(
        self,
        *,
        connections: int,
        tls: ssl.SSLContext,
        keepalive_seconds: float = 30.0,
    ) -> None:
        self._connections = connections
        self._tls = tls
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._connections,
                    keepalive_timeout=self._keepalive_seconds,
                    ssl=self._tls,
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None,
        body: bytes | None,
        timeouts: Timeouts,
    ) -> AiohttpAnswer:
        session = self._open()
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            timeout = self._timeouts[timeouts] = client_timeout(timeouts)
        try:
            async with session.request(
                method,
                url,
                params=query,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=timeout,
            ) as answer:
                content = await answer.read()
                return AiohttpAnswer(answer.status, answer.headers, content, answer.charset)
        except Exception as exc:
            mapped = httpx_error(exc)
            if mapped is None:
                raise
            raise mapped(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
