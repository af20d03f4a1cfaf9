"""The port our Atlassian gateway clients send HTTP through (`Exchange`), and its httpx adapter.

An adapter sends one request and returns the answer whole, or raises one of httpx's exceptions
(the boundaries map those: `boundary.TRANSPORT_RULES`), so every failure keeps one meaning
whichever adapter carried the call. An answer has httpx.Response's shape (an httpx.Response is
one). The composition root gives the clients the aiohttp adapter (bot/http_transport.py); the
httpx one serves whoever builds a client without one (tests, a script).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from services.outbound_tls import shared_tls_context


class Answer(Protocol):
    """An HTTP answer, read whole: what the boundaries look at."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Looked up by any case of the name."""
        ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Timeouts:
    """How long one call may take: to connect, and for each read of the answer (also the most a
    call waits for a free connection when all are busy)."""

    connect_seconds: float
    read_seconds: float


class Exchange(Protocol):
    """Sends one request and reads the answer whole; raises httpx's exceptions."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None,
        body: bytes | None,
        timeouts: Timeouts,
    ) -> Answer: ...

    async def aclose(self) -> None: ...


class HttpxExchange:
    """`Exchange` over httpx clients: `pools` of them taken in turn, sharing `connections`
    (at most so many open, so many kept alive), or one over a given `transport`."""

    def __init__(
        self,
        *,
        pools: int = 1,
        connections: tuple[int, int] = (100, 20),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        count = 1 if transport is not None else pools
        most, alive = connections
        self._pools = tuple(
            httpx.AsyncClient(
                transport=transport,
                verify=shared_tls_context(),
                follow_redirects=False,  # a redirect here is a misconfiguration, not a detour
                limits=httpx.Limits(
                    max_connections=most // count, max_keepalive_connections=alive // count
                ),
            )
            for _ in range(count)
        )
        self._next_pool = itertools.cycle(self._pools)
        self._timeouts: dict[Timeouts, httpx.Timeout] = {}
        # Parsed once per address: httpx parses a URL given as text on every call, which was a
        # third of what building a request cost.
        self._urls: dict[str, httpx.URL] = {}

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None,
        body: bytes | None,
        timeouts: Timeouts,
    ) -> httpx.Response:
        return await next(self._next_pool).request(
            method,
            self._url(url),
            params=query,
            headers=headers,
            content=body,
            timeout=self._timeout(timeouts),
        )

    def _url(self, text: str) -> httpx.URL:
        url = self._urls.get(text)
        if url is None:
            url = httpx.URL(text)
            if len(self._urls) < 256:  # a followed `next` link is seen once: no need to keep it
                self._urls[text] = url
        return url

    def _timeout(self, timeouts: Timeouts) -> httpx.Timeout:
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            timeout = self._timeouts[timeouts] = httpx.Timeout(
                timeouts.read_seconds, connect=timeouts.connect_seconds
            )
        return timeout

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
