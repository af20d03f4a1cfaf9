"""The one boundary where httpx and Confluence's refusals become our error tree.

    what happened                                   our error                       tried again
    ----------------------------------------------  ------------------------------  -----------
    401 "scope does not match" / scope category     MissingScope(endpoint scope)    no
    401 (token expired, revoked)                    refresh once via the vault,     once
                                                    then LinkBroken ("reconnect")
    403 naming a scope, or any 403 of the gateway   MissingScope(endpoint scope)    no
    403 other Confluence text                       ConfluenceForbidden(text)       no
    404                                             ConfluenceNotFound(text)        no
    400, 409, 413, 422                              ConfluenceRefused(text)         no
    408, timeouts                                   UpstreamTimeout                 yes *
    429                                             RateLimited(.retry_after)       yes *
    500, 502, 503, 504, connection failures         UpstreamUnavailable             yes *
    other 3xx/4xx/5xx, undecodable or odd answers   UpstreamUnavailable             no

    * every Confluence call here is a read, retried with ApprovalFlow's `Backoff` (Atlassian's
      advice: at most 4 tries, Retry-After honoured).

httpx exceptions map through the same `TRANSPORT_RULES` as ApprovalFlow's calls (one table for
every outside HTTP call; its test keeps it complete).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from services.approvalflow.boundary import (
    Refusal,
    Retry,
    parse_retry_after,
    rate_limited,
    server_text,
    transport_rule,
)
from services.approvalflow.exchange import Answer
from services.confluence.endpoints import ConfluenceEndpoint
from services.errors import (
    ConfluenceForbidden,
    ConfluenceNotFound,
    ConfluenceRefused,
    LinkBroken,
    MissingScope,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)


def what(endpoint: ConfluenceEndpoint) -> str:
    return f"Confluence ({endpoint.path.strip('/')})"


def transport_error(exc: Exception, endpoint: ConfluenceEndpoint) -> tuple[UpstreamError, bool]:
    """Our error for an httpx exception raised by a call, and whether a retry may help."""
    rule = transport_rule(type(exc))
    return rule.error(f"{what(endpoint)}: {rule.detail}"), rule.transient


def refusal(response: Answer, endpoint: ConfluenceEndpoint, now: datetime) -> Refusal:
    """Map a non-2xx answer (see the table in this module's docstring)."""
    status = response.status_code
    text = _text(response)
    said = f": {text}" if text else ""
    lower = (text or "").lower()
    if status == 401:
        category = response.headers.get("x-failure-category", "").upper()
        if "scope does not match" in lower or "SCOPE" in category:
            return Refusal(MissingScope([endpoint.scope]), Retry.NO)
        return Refusal(LinkBroken(), Retry.REFRESH)
    if status == 403:
        if "scope" in lower or not text:
            # Granular scopes are checked before Confluence looks at the content; a grant made
            # before the bot asked for them meets exactly this.
            return Refusal(MissingScope([endpoint.scope]), Retry.NO)
        return Refusal(ConfluenceForbidden(text), Retry.NO)
    if status == 404:
        return Refusal(ConfluenceNotFound(text), Retry.NO)
    if status in (400, 409, 413, 422):
        return Refusal(ConfluenceRefused(text, status), Retry.NO)
    if status == 408:
        return Refusal(
            UpstreamTimeout(f"{what(endpoint)}: no answer in time (HTTP 408)"), Retry.BACKOFF
        )
    if status == 429:
        return rate_limited(response, f"{what(endpoint)}: Confluence", now)
    if status in (500, 502, 503, 504):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        failed = UpstreamUnavailable(f"{what(endpoint)}: it failed (HTTP {status}{said})")
        return Refusal(failed, Retry.BACKOFF, retry_after)
    return Refusal(UpstreamUnavailable(f"{what(endpoint)}: it answered HTTP {status}"), Retry.NO)


def _text(response: Answer) -> str | None:
    """Confluence's own explanation (`errors[0].title`, v2's error body), else the gateway's."""
    try:
        body: Any = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        title = errors[0].get("title")
        if isinstance(title, str) and title.strip():
            return server_text(httpx.Response(200, json={"error": title}))
    return server_text(response, body)
