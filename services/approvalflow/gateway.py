"""What our clients of Atlassian's gateway APIs share: their HTTP connections, a call as a person
(their token, one refresh after a 401, Atlassian's backoff for what may be repeated), and closing.

ApprovalFlow's and Confluence's clients build on it; each brings its own boundary, which says
what a status or an httpx exception means for its API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import ClassVar, Generic, Protocol, Self, TypedDict, TypeVar, Unpack

import httpx

from services.approvalflow.boundary import HTTPX_ERRORS, Refusal, Retry
from services.approvalflow.exchange import Answer, Exchange, HttpxExchange, Timeouts
from services.approvalflow.retry import Backoff
from services.clock import SystemClock
from services.errors import UpstreamError
from services.ports import Clock, Credential, Credentials

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Send = Callable[[Credential], Awaitable[Answer]]
TransportMap = Callable[[Exception], tuple[UpstreamError, bool]]
RefusalMap = Callable[[Answer, Credential], Refusal]

# Sent with every call (an httpx client would otherwise add its own Accept and User-Agent).
COMMON_HEADERS = {"Accept": "application/json", "User-Agent": "approvals-bot"}


class GatewaySettings(Protocol):
    """How long a client waits for its API (every outbound call has a timeout)."""

    @property
    def timeout_seconds(self) -> float: ...

    @property
    def connect_timeout_seconds(self) -> float: ...


S = TypeVar("S", bound=GatewaySettings)


class GatewayOptions(TypedDict, total=False):
    """What a test or the composition root may set on a client besides its settings."""

    clock: Clock | None
    backoff: Backoff | None
    sleep: Sleep
    jitter: Callable[[], float]
    # What carries the calls (the composition root's over aiohttp); else httpx clients, over
    # `transport` when given (a test's), as one pool.
    exchange: Exchange | None
    transport: httpx.AsyncBaseTransport | None


class GatewayClient(Generic[S]):
    """Base of a client that calls an Atlassian API as each person, through the vault.

    Without an `exchange`, calls take `pools` httpx clients in turn, which share `connections`:
    at most so many open, at most so many kept alive (by default httpx's own limits)."""

    pools: ClassVar[int] = 1
    connections: ClassVar[tuple[int, int]] = (100, 20)

    def __init__(
        self, settings: S, credentials: Credentials, **options: Unpack[GatewayOptions]
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._clock = options.get("clock") or SystemClock()
        self._backoff = options.get("backoff") or Backoff()
        self._sleep = options.get("sleep", asyncio.sleep)
        self._jitter = options.get("jitter", random.random)
        self._exchange: Exchange = options.get("exchange") or HttpxExchange(
            pools=self.pools, connections=self.connections, transport=options.get("transport")
        )
        self._timeouts = Timeouts(
            connect_seconds=settings.connect_timeout_seconds,
            read_seconds=settings.timeout_seconds,
        )

    async def _request(
        self,
        method: str,
        url: str,
        credential: Credential,
        *,
        query: Mapping[str, str] | None = None,
        body: object | None = None,
    ) -> Answer:
        """One call with the person's token; a `body` goes as JSON."""
        headers = {**COMMON_HEADERS, "Authorization": f"Bearer {credential.access_token}"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(
                body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
        return await self._exchange.send(
            method, url, headers=headers, query=query, body=content, timeouts=self._timeouts
        )

    async def aclose(self) -> None:
        await self._exchange.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send_as(
        self,
        user_id: str,
        credential: Credential,
        send: Send,
        *,
        name: str,
        repeatable: bool,
        transport_error: TransportMap,
        refusal: RefusalMap,
    ) -> tuple[Answer, Credential]:
        """A 2xx answer and the credential that got it; else the boundary's error. A 401 asks
        the vault to refresh once (it raises LinkBroken itself when that fails); timeouts,
        429 and 5xx are tried again only when the call is `repeatable`."""
        refreshed = False
        tries = 0
        while True:
            tries += 1
            started = time.monotonic()
            try:
                response = await send(credential)
            except HTTPX_ERRORS as exc:
                error, transient = transport_error(exc)
                delay = self._delay(repeatable, tries, None) if transient else None
                _log(name, user_id, tries, started, type(exc).__name__, delay)
                if delay is None:
                    raise error from exc
                await self._sleep(delay)
                continue
            _log(name, user_id, tries, started, response.status_code, None)
            if 200 <= response.status_code < 300:
                return response, credential
            answer = refusal(response, credential)
            if answer.retry is Retry.REFRESH and not refreshed:
                credential = await self._credentials.after_rejection(user_id, credential)
                refreshed = True
                tries -= 1  # a refused token is not a failed try of the call
                continue
            if answer.retry is Retry.BACKOFF:
                delay = self._delay(repeatable, tries, answer.retry_after)
                if delay is not None:
                    log.info(
                        "gateway retry",
                        extra={
                            "endpoint": name,
                            "status": response.status_code,
                            "wait_seconds": round(delay, 2),
                        },
                    )
                    await self._sleep(delay)
                    continue
            raise answer.error

    def _delay(self, repeatable: bool, tries: int, retry_after: float | None) -> float | None:
        if not repeatable:
            return None  # a write is never repeated blindly
        return self._backoff.delay(tries, retry_after, self._jitter)


def _log(
    name: str, user_id: str, tries: int, started: float, outcome: int | str, retry_in: float | None
) -> None:
    log.debug(
        "gateway call",
        extra={
            "endpoint": name,
            "user": user_id,
            "try": tries,
            "outcome": outcome,
            "ms": round((time.monotonic() - started) * 1000),
            "retry_in": retry_in,
        },
    )
