"""The Web API clients the bot builds: each waits out 429s and repeats only safe calls.

slack_sdk's own retry handlers do the waiting: `AsyncRateLimitErrorRetryHandler` sleeps for the
answer's Retry-After and sends the call again (a 429 means Slack did not act on it, so every
method may be repeated), and a connection failure is retried only for methods that are safe to
send twice (reads, and writes that land in the same state when repeated). A post, an ephemeral,
a views.open (its trigger is single-use) or a file share is never sent twice blindly.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

TIMEOUT_SECONDS = 10
# A burst (a watched space with many new change sets) may meet several 429s in a row; each wait
# is Slack's own Retry-After, so this bounds the attempts, not the pace.
RATE_LIMIT_RETRIES = 8
CONNECTION_RETRIES = 2

# Methods whose repetition leaves Slack as one call would: reads, and writes of a final state.
SAFE_TO_REPEAT = frozenset(
    {
        "auth.test",
        "users.info",
        "users.list",
        "usergroups.users.list",
        "conversations.open",
        "conversations.info",
        "files.info",
        "files.delete",
        "chat.update",
        "chat.delete",
        "views.update",
        "views.publish",
        "files.getUploadURLExternal",
    }
)


def method_of(url: str) -> str:
    """The Web API method a request URL calls (".../api/chat.postMessage" -> "chat.postMessage")."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class SafeConnectionErrorRetryHandler(AsyncConnectionErrorRetryHandler):
    """slack_sdk's connection retry, for the methods in SAFE_TO_REPEAT only."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        # Every answer, a good one too, is put to this handler: look at the method only after
        # a connection failure.
        if error is None or method_of(request.url) not in SAFE_TO_REPEAT:
            return False
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


def retry_handlers() -> list[AsyncRetryHandler]:
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        SafeConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
    ]


def web_client(
    token: str,
    base_url: str,
    session: aiohttp.ClientSession | None,
    *,
    logger: logging.Logger | None = None,
    **extra: Any,
) -> AsyncWebClient:
    """A Web API client with a timeout and the retry handlers above."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=TIMEOUT_SECONDS,
        session=session,
        logger=logger,
        retry_handlers=retry_handlers(),
        **extra,
    )
