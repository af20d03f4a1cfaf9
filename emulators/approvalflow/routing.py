"""What every emulated endpoint shares: latency, injected faults, error bodies and call records."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulators.approvalflow.contract import (
    API_ENDPOINTS,
    BAD_CLIENT,
    BAD_REFRESH,
    INVALID_CODE,
    insufficient_scope,
)
from emulators.approvalflow.errors import ApiError, GatewayError, OAuthError, SandboxError
from emulators.approvalflow.models import Call
from emulators.approvalflow.state import Fault, SandboxState

Handler = Callable[[Request], Awaitable[Response]]
_SCOPES = {endpoint.name: endpoint.scope for endpoint in API_ENDPOINTS}
_REDACTED = ("client_secret",)


def instrumented(state: SandboxState, endpoint: str, handler: Handler) -> Handler:
    """Wrap a route: apply latency and faults, turn `SandboxError` into its response, and record
    the call with the account behind the bearer (or the family the handler put in
    `request.state.family`)."""

    async def answer(request: Request) -> Response:
        token = bearer_token(request)
        request.state.family = state.token_family(token) if token else None
        # Read the body before any delay: a client that gives up waiting must not stop the call
        # from being handled and recorded, as with a real server that did the work anyway.
        body = _redacted(await parsed_body(request))
        delay = state.latency(endpoint)
        if delay:
            await asyncio.sleep(delay)
        fault = state.take_fault(endpoint)
        response: Response
        if fault is not None and fault.status is not None:
            response = fault_response(endpoint, fault)
        else:
            try:
                response = await handler(request)
            except SandboxError as exc:
                response = error_response(exc)
        family = request.state.family
        state.record(
            Call(
                at=state.now(),
                method=request.method,
                path=request.url.path,
                endpoint=endpoint,
                params=dict(request.query_params),
                body=body,
                account_id=family.account_id if family else None,
                client_id=family.client_id if family else None,
                status=response.status_code,
            )
        )
        if fault is not None and fault.hang_seconds:
            # A hang answers late after doing the work: the caller's timeout (or its death)
            # leaves the outcome unknown, which is exactly what a submit must be ready for.
            await state.hold_answer(fault.hang_seconds)
        return response

    return answer


def error_response(exc: SandboxError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def fault_response(endpoint: str, fault: Fault) -> JSONResponse:
    assert fault.status is not None
    body = fault.body if fault.body is not None else _fault_error(endpoint, fault.status).body()
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return JSONResponse(body, status_code=fault.status, headers=headers)


def _fault_error(endpoint: str, status: int) -> SandboxError:
    """The body the real service would most likely send with this status."""
    if endpoint in _SCOPES and status in (400, 403, 500):
        return ApiError(status, _app_messages(endpoint)[status])
    if endpoint == "token":
        documented = {
            400: ("invalid_request", INVALID_CODE),
            401: ("access_denied", BAD_CLIENT),
            403: ("invalid_grant", BAD_REFRESH),
        }
        error, description = documented.get(
            status, ("temporarily_unavailable" if status in (429, 503) else "server_error", "")
        )
        return OAuthError(status, error, description or _phrase(status))
    return GatewayError(status, _phrase(status))


def _app_messages(endpoint: str) -> dict[int, str]:
    return {
        400: "Bad request",
        403: insufficient_scope(_SCOPES[endpoint]),
        500: "Internal server error",
    }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """client_secret_basic, which Authlib uses by default (atlassian-3lo.md §2)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


async def parsed_body(request: Request) -> Any:
    """The body as a dict (JSON or form-encoded), None when empty, else the raw text."""
    raw = await request.body()  # Starlette caches it, so every reader sees the same bytes
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _redacted(body: Any) -> Any:
    if isinstance(body, dict):
        return {key: "***" if key in _REDACTED else value for key, value in body.items()}
    return body
