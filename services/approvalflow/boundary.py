"""The one boundary where httpx, pydantic and ApprovalFlow's refusals become our error tree.

    what happened                                   our error                       tried again
    ----------------------------------------------  ------------------------------  -----------
    400 ApprovalFlow error text                     RequestRejected(text)           no
    400/404 whose text says "not found"             ApprovalFlowNotFound(text)      no
    401 (token expired, revoked)                    refresh once via the vault,     once, any
                                                    then LinkBroken ("reconnect")   endpoint
    401 "scope does not match" / scope category     MissingScope(scopes)            no
    403 licence text                                LicenceInactive                 no
    403 scope text                                  MissingScope(named scope)       no
    403 from the gateway (not ApprovalFlow's body)  AppApisDisabled (admin how-to)  no
    403 other ApprovalFlow text                     ApprovalFlowForbidden(text)     no
    404 from the gateway                            GatewayNotFound (app/env ids)   no
    408, timeouts                                   UpstreamTimeout                 reads *
    409, 422                                        RequestRejected(text)           no
    429                                             RateLimited(.retry_after)       reads *
    500, 502, 503, 504, connection failures         UpstreamUnavailable             reads *
    other 3xx/4xx/5xx, undecodable or odd answers   UpstreamUnavailable             no
    2xx with {"success": false, "error": text}      RequestRejected(text)           no

    * reads and preflights only, with `Backoff`; a write (create, update, archive, submit) is
      never repeated blindly. A write that may have reached ApprovalFlow before failing raises
      with `outcome_unknown=True`, so the caller checks (detail, preflight) before trying again.

`TRANSPORT_RULES` names every exception class httpx exports (a test keeps it complete).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from services.approvalflow.endpoints import KNOWN_SCOPES, Endpoint, missing_scopes
from services.approvalflow.exchange import Answer
from services.errors import (
    AppApisDisabled,
    ApprovalFlowForbidden,
    ApprovalFlowNotFound,
    ApprovalsError,
    GatewayNotFound,
    LicenceInactive,
    LinkBroken,
    MissingScope,
    RateLimited,
    RequestRejected,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

MAX_SERVER_TEXT = 300  # the server's text is shown in Slack; keep a runaway body out of it

WRITE_UNKNOWN = "; it may have been applied anyway, so check before trying again"

# Every exception httpx exports (and the few outside HTTPError that a request can meet).
HTTPX_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.CookieConflict,
    httpx.StreamError,
)


@dataclass(frozen=True)
class TransportRule:
    """How one httpx exception maps: our class, the detail shown, whether the request may have
    reached the server (`delivered`: a write's outcome is then unknown), and whether trying
    again may help (`transient`)."""

    error: type[UpstreamError]
    detail: str
    delivered: bool
    transient: bool


_UNAVAILABLE = UpstreamUnavailable
_TIMEOUT = UpstreamTimeout
_BUG = "the bot misused its HTTP client (a bug; the log has the details)"

# Ordered most specific first; `transport_rule` walks an exception's MRO, so a class httpx
# adds later still lands on its parent's rule.
TRANSPORT_RULES: dict[type[Exception], TransportRule] = {
    httpx.ConnectTimeout: TransportRule(_TIMEOUT, "no connection in time", False, True),
    httpx.PoolTimeout: TransportRule(_TIMEOUT, "too many calls were waiting", False, True),
    httpx.ReadTimeout: TransportRule(_TIMEOUT, "no answer in time", True, True),
    httpx.WriteTimeout: TransportRule(_TIMEOUT, "sending the request took too long", True, True),
    httpx.TimeoutException: TransportRule(_TIMEOUT, "no answer in time", True, True),
    httpx.ConnectError: TransportRule(_UNAVAILABLE, "could not connect", False, True),
    httpx.ReadError: TransportRule(_UNAVAILABLE, "the connection broke", True, True),
    httpx.WriteError: TransportRule(_UNAVAILABLE, "the connection broke", True, True),
    httpx.CloseError: TransportRule(_UNAVAILABLE, "the connection broke", True, True),
    httpx.NetworkError: TransportRule(_UNAVAILABLE, "the network failed", True, True),
    httpx.RemoteProtocolError: TransportRule(
        _UNAVAILABLE, "the server broke the HTTP protocol", True, True
    ),
    httpx.LocalProtocolError: TransportRule(
        _UNAVAILABLE, "the request could not be sent", False, False
    ),
    httpx.ProtocolError: TransportRule(_UNAVAILABLE, "an HTTP protocol error", True, True),
    httpx.ProxyError: TransportRule(_UNAVAILABLE, "the proxy refused the call", False, True),
    httpx.UnsupportedProtocol: TransportRule(
        _UNAVAILABLE,
        "its address is not http(s): check ATLASSIAN_API_URL or APPROVALFLOW_BASE_URL",
        False,
        False,
    ),
    httpx.TransportError: TransportRule(_UNAVAILABLE, "the call failed", True, True),
    httpx.DecodingError: TransportRule(
        _UNAVAILABLE, "its answer could not be decoded", True, False
    ),
    httpx.TooManyRedirects: TransportRule(_UNAVAILABLE, "it redirected too often", True, False),
    httpx.RequestError: TransportRule(_UNAVAILABLE, "the call failed", True, True),
    # We never call raise_for_status (statuses go through `refusal`); kept for completeness.
    httpx.HTTPStatusError: TransportRule(_UNAVAILABLE, "it answered an error", True, False),
    httpx.HTTPError: TransportRule(_UNAVAILABLE, "the call failed", True, False),
    httpx.InvalidURL: TransportRule(
        _UNAVAILABLE,
        "its address is malformed: check ATLASSIAN_API_URL, APPROVALFLOW_BASE_URL and the "
        "site's cloud id",
        False,
        False,
    ),
    httpx.CookieConflict: TransportRule(_UNAVAILABLE, _BUG, False, False),
    httpx.RequestNotRead: TransportRule(_UNAVAILABLE, _BUG, False, False),
    httpx.ResponseNotRead: TransportRule(_UNAVAILABLE, _BUG, True, False),
    httpx.StreamClosed: TransportRule(_UNAVAILABLE, _BUG, True, False),
    httpx.StreamConsumed: TransportRule(_UNAVAILABLE, _BUG, True, False),
    httpx.StreamError: TransportRule(_UNAVAILABLE, _BUG, True, False),
}


def transport_rule(exc_type: type[Exception]) -> TransportRule:
    for cls in exc_type.__mro__:
        rule = TRANSPORT_RULES.get(cls)
        if rule is not None:
            return rule
    raise TypeError(f"{exc_type.__name__} is not an httpx exception")


def transport_error(exc: Exception, endpoint: Endpoint) -> tuple[UpstreamError, bool]:
    """Our error for an httpx exception raised by a call, and whether a retry may help."""
    rule = transport_rule(type(exc))
    unknown = rule.delivered and not endpoint.repeatable
    error = rule.error(
        f"{_what(endpoint)}: {rule.detail}{WRITE_UNKNOWN if unknown else ''}",
        outcome_unknown=unknown,
    )
    return error, rule.transient


class Retry(Enum):
    NO = "no"
    REFRESH = "refresh"  # 401: the vault refreshes the token once, then the call is repeated
    BACKOFF = "backoff"  # 408, 429, 5xx: repeatable endpoints wait and try again


@dataclass(frozen=True)
class Refusal:
    """What an error status means: the error to raise and how the call may be retried."""

    error: ApprovalsError
    retry: Retry
    retry_after: float | None = None


def refusal(
    response: Answer, endpoint: Endpoint, granted: frozenset[str], now: datetime
) -> Refusal:
    """Map a non-2xx answer (see the table in this module's docstring)."""
    status = response.status_code
    body = _json(response)
    text = server_text(response, body)
    said = f": {text}" if text else ""
    # ApprovalFlow's own error body (§3.1); anything else came from the gateway before it.
    from_app = isinstance(body, dict) and body.get("success") is False and "error" in body
    lower = (text or "").lower()

    if status == 401:
        category = response.headers.get("x-failure-category", "").upper()
        if "scope does not match" in lower or "SCOPE" in category:
            # Refreshing cannot add a scope; only a new consent can.
            return Refusal(_missing_scope(text, endpoint, granted), Retry.NO)
        return Refusal(LinkBroken(), Retry.REFRESH)
    if status == 403:
        if "licen" in lower:  # "License not active" (§3.1), in either spelling
            return Refusal(LicenceInactive(), Retry.NO)
        if "scope" in lower:
            return Refusal(_missing_scope(text, endpoint, granted), Retry.NO)
        if from_app and "app rest api" not in lower:
            return Refusal(ApprovalFlowForbidden(text), Retry.NO)
        return Refusal(AppApisDisabled(text), Retry.NO)
    if status == 404 and not from_app:
        # The gateway knows no such app route: our ids are wrong, not the user's.
        return Refusal(GatewayNotFound(), Retry.NO)
    if status == 404 or (status == 400 and "not found" in lower):
        # The docs give no not-found status (§3.1); ApprovalFlow's text says it either way.
        return Refusal(ApprovalFlowNotFound(text), Retry.NO)
    if status in (400, 409, 422):
        return Refusal(RequestRejected(text or "", status), Retry.NO)
    if status == 408:
        return Refusal(
            _upstream(UpstreamTimeout, endpoint, "no answer in time (HTTP 408)"), Retry.BACKOFF
        )
    if status == 429:
        return rate_limited(response, f"{_what(endpoint)}: ApprovalFlow", now)
    if status in (500, 502, 503, 504):
        # A write may have run (partly) before a 5xx; only reads are safe to assume untouched.
        detail = f"it failed (HTTP {status}{said})"
        return Refusal(
            _upstream(UpstreamUnavailable, endpoint, detail, maybe_applied=True), Retry.BACKOFF
        )
    if 300 <= status < 400:
        where = httpx.URL(response.headers.get("location", "")).host or "elsewhere"
        return Refusal(
            UpstreamUnavailable(f"{_what(endpoint)}: it redirected to {where} (HTTP {status})"),
            Retry.NO,
        )
    detail = f"it answered HTTP {status}{said}"
    return Refusal(
        _upstream(UpstreamUnavailable, endpoint, detail, maybe_applied=status >= 500), Retry.NO
    )


def rate_limited(response: Answer, who: str, now: datetime) -> Refusal:
    """A 429: wait what Retry-After says (or back off), then tell the caller `who` limits."""
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    wait = f"; try again in {retry_after:.0f} s" if retry_after is not None else ""
    error = RateLimited(f"{who} is rate limiting calls (HTTP 429){wait}", retry_after=retry_after)
    return Refusal(error, Retry.BACKOFF, retry_after)


def answer_object(response: Answer, endpoint: Endpoint) -> dict[str, Any]:
    """The JSON object of a 2xx answer ({} when empty); a 2xx carrying ApprovalFlow's error body
    is a refusal like a 400."""
    if not response.content.strip():
        return {}
    body = _json(response)
    if not isinstance(body, dict):
        raise _upstream(
            UpstreamUnavailable, endpoint, "its answer was not a JSON object", maybe_applied=True
        )
    if body.get("success") is False and isinstance(body.get("error"), str):
        text = _clean(body["error"])
        raise RequestRejected(text)
    return body


def parse_answer(model: type[M], data: Any, endpoint: Endpoint) -> M:
    """Read an answer into its model; an answer without what it is for is UpstreamUnavailable."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        log.warning(
            "approvalflow answer unreadable",
            extra={
                "endpoint": endpoint.name,
                "problems": [f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors()],
            },
        )
        raise _upstream(
            UpstreamUnavailable,
            endpoint,
            "its answer was not in the expected shape",
            maybe_applied=True,
        ) from None


def server_text(response: Answer, body: Any = None) -> str | None:
    """The server's own explanation: ApprovalFlow's `error`, the gateway's `message`, or a short
    plain-text body."""
    if body is None:
        body = _json(response)
    if isinstance(body, dict):
        for key in ("error", "message", "error_description", "errorMessage"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return _clean(value)
    if response.headers.get("content-type", "").startswith("text/plain") and response.text.strip():
        return _clean(response.text)
    return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After in seconds (RFC 9110: delay-seconds or an HTTP date), None when absent or
    unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def _missing_scope(text: str | None, endpoint: Endpoint, granted: frozenset[str]) -> MissingScope:
    """Name the scope from the refusal when it names one; else what the endpoint needs (§1.2)
    and the grant lacks; else everything the endpoint needs."""
    named = sorted(scope for scope in KNOWN_SCOPES if text and scope in text)
    return MissingScope(named or missing_scopes(endpoint, granted) or sorted(endpoint.scopes))


def _upstream(
    cls: type[UpstreamError], endpoint: Endpoint, detail: str, *, maybe_applied: bool = False
) -> UpstreamError:
    unknown = maybe_applied and not endpoint.repeatable
    return cls(
        f"{_what(endpoint)}: {detail}{WRITE_UNKNOWN if unknown else ''}", outcome_unknown=unknown
    )


def _what(endpoint: Endpoint) -> str:
    return endpoint.name.replace("_", " ")


def _json(response: Answer) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _clean(text: str) -> str:
    one_line = _CONTROL.sub(" ", text).strip()
    if len(one_line) > MAX_SERVER_TEXT:
        return one_line[: MAX_SERVER_TEXT - 1] + "…"
    return one_line.rstrip(".")
