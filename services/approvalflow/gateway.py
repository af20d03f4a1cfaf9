"""What our clients of Atlassian's gateway APIs share: a call as a person (their token, one
refresh after a 401, Atlassian's backoff for what may be repeated), and closing.

ApprovalFlow's and Confluence's clients build on it; each brings its own boundary, which says
what a status or an httpx exception means for its API.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

import httpx

from services.approvalflow.boundary import HTTPX_ERRORS, Refusal, Retry
from services.approvalflow.retry import Backoff
from services.clock import SystemClock
from services.errors import UpstreamError
from services.ports import Clock, Credential, Credentials

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Send = Callable[[Credential], Awaitable[httpx.Response]]
TransportMap = Callable[[Exception], tuple[UpstreamError, bool]]
RefusalMap = Callable[[httpx.Response, Credential], Refusal]


class GatewayClient:
    """Base of a client that calls an Atlassian API as each person, through the vault."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._credentials = credentials
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._jitter = jitter

    async def aclose(self) -> None:
        raise NotImplementedError

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
    ) -> tuple[httpx.Response, Credential]:
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
            if response.is_success:
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
