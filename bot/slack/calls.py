"""Web API calls with JSON arguments, sent on the Web API client's own aiohttp session.

slack_sdk's AsyncWebClient spends on each call nearly as much CPU as aiohttp's own work: it
joins the method's URL again, rebuilds the headers, looks the method up in its deprecation list
and wraps the request and the answer several times (with aiohttp, 85 µs a post; through
slack_sdk, 130). A call here means what it meant there: the client's own retry handlers decide,
in slack_sdk's order, what a 429 (waited out) and a connection failure (repeated for the methods
safe to repeat) lead to; the answer is slack_sdk's AsyncSlackResponse, checked by its own
`validate` (SlackApiError for an ok:false), so bot/slack/failures.py maps every failure as
before. Bodies are never logged here (the enrolment DM carries a setup key).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.web.internal_utils import get_user_agent


class JsonCalls:
    """POSTs of JSON arguments to Web API methods, as `client` would send them."""

    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession) -> None:
        self._client = client
        self._session = session
        self._base_url = client.base_url if client.base_url.endswith("/") else client.base_url + "/"
        self._headers = {
            "User-Agent": get_user_agent(),
            "Authorization": f"Bearer {client.token}",
            **client.headers,
            "Content-Type": "application/json;charset=utf-8",
        }

    async def call(self, method: str, arguments: dict[str, Any]) -> AsyncSlackResponse:
        """The checked answer to `method`; raises what slack_sdk's client would raise."""
        url = self._base_url + method
        body = json.dumps(arguments).encode()
        request = HttpRequest(method="POST", url=url, headers=self._headers, body_params=arguments)
        state = RetryState()
        while True:
            state.next_attempt_requested = False
            answer: HttpResponse | None = None
            try:
                async with self._session.post(url, data=body, headers=self._headers) as res:
                    data = await _data(res)
                    answer = HttpResponse(status_code=res.status, headers=res.headers, body=data)  # type: ignore[arg-type]
                    if not await self._retried(state, request, answer, None):
                        response = AsyncSlackResponse(
                            client=self._client,
                            http_verb="POST",
                            api_url=url,
                            req_args={"headers": self._headers, "json": arguments},
                            data=data,
                            headers=res.headers,  # type: ignore[arg-type]
                            status_code=res.status,
                        )
                        response.validate()  # type: ignore[no-untyped-call]
                        return response
            except SlackApiError:
                raise
            except Exception as exc:
                if not await self._retried(state, request, answer, exc):
                    raise

    async def _retried(
        self,
        state: RetryState,
        request: HttpRequest,
        answer: HttpResponse | None,
        error: Exception | None,
    ) -> bool:
        """Whether a retry handler took the call up again (it has waited meanwhile)."""
        for handler in self._client.retry_handlers:
            if await handler.can_retry_async(
                state=state, request=request, response=answer, error=error
            ):
                await handler.prepare_for_next_attempt_async(
                    state=state, request=request, response=answer, error=error
                )
                break
        return state.next_attempt_requested


async def _data(res: aiohttp.ClientResponse) -> dict[str, Any]:
    """The answer's JSON object, as slack_sdk reads it: {} when it is not JSON at all."""
    raw = await res.read()
    kind = res.content_type
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise SlackApiError(  # type: ignore[no-untyped-call]
            f"Received a response in a non-JSON format: {raw[:100]!r}", res
        ) from None
    return data if isinstance(data, dict) else {}
