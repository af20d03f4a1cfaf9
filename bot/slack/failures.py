"""The one map of slack_sdk and aiohttp failures into our error tree (services/errors.py).

    what failed                                       our error
    SlackApiError, its `error` code in GONE           SlackGone (message, file, modal, user, group)
    SlackApiError, code in CHANNEL_CLOSED             SlackChannelClosed (archived, bot not in it)
    SlackApiError, code in APP_REVOKED                SlackAppRevoked (token revoked, uninstalled)
    SlackApiError, code in CONFLICT                   SlackConflict (a modal redrawn since)
    SlackApiError "ratelimited" (429 after retries)   RateLimited(.retry_after)
    SlackApiError, any other code                     SlackRefused(.error)
    TimeoutError (the client's timeout)               UpstreamTimeout *
    aiohttp connection failures                       UpstreamUnavailable *
    other slack_sdk / aiohttp errors (misuse, config) UpstreamUnavailable

    * `outcome_unknown` when the call may have reached Slack and is not safe to repeat.

`EXCEPTION_RULES` names every exception class slack_sdk.errors and aiohttp export that a call
can raise; a test keeps it complete. `slack_errors` is the only place these foreign exceptions
are caught: every Web API call the bot makes runs inside it (bot/slack/api.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
from slack_sdk import errors as sdk

from services.errors import (
    ApprovalsError,
    RateLimited,
    SlackAppRevoked,
    SlackChannelClosed,
    SlackConflict,
    SlackGone,
    SlackRefused,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

# Slack's own error codes (the `error` of an ok:false answer), by what they mean to us.
GONE = frozenset(
    {
        "message_not_found",
        "file_not_found",
        "file_deleted",
        "not_found",  # views.update / views.push: the modal was closed
        "view_not_found",
        "user_not_found",
        "users_not_found",
        "no_such_subteam",
        "subteam_not_found",
        "invalid_usergroup",
        "cant_update_message",
        "cant_delete_message",
        "cant_delete_file",
    }
)
CHANNEL_CLOSED = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "cannot_dm_bot", "user_disabled"}
)
APP_REVOKED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
CONFLICT = frozenset({"hash_conflict"})
RATE_LIMITED = "ratelimited"


@dataclass(frozen=True)
class ExceptionRule:
    """How one foreign exception maps: our class, the detail shown, and whether the call may
    have reached Slack (then a call that is not safe to repeat has an unknown outcome)."""

    error: type[UpstreamError]
    detail: str
    delivered: bool


_BUG = "the bot misused its Slack client (a bug; the log has the details)"

# Walked along the MRO, so a class added later lands on its parent's rule.
EXCEPTION_RULES: dict[type[BaseException], ExceptionRule] = {
    # SlackApiError is mapped by its error code (`api_error`); this rule is for unknown shapes.
    sdk.SlackApiError: ExceptionRule(SlackRefused, "Slack refused the call", True),
    sdk.SlackRequestError: ExceptionRule(UpstreamUnavailable, "the call could not be sent", False),
    sdk.BotUserAccessError: ExceptionRule(UpstreamUnavailable, _BUG, False),
    sdk.SlackTokenRotationError: ExceptionRule(UpstreamUnavailable, _BUG, False),
    sdk.SlackClientNotConnectedError: ExceptionRule(UpstreamUnavailable, _BUG, False),
    sdk.SlackObjectFormationError: ExceptionRule(UpstreamUnavailable, _BUG, False),
    sdk.SlackClientConfigurationError: ExceptionRule(UpstreamUnavailable, _BUG, False),
    sdk.SlackClientError: ExceptionRule(UpstreamUnavailable, "the Slack client failed", True),
    aiohttp.ClientConnectorError: ExceptionRule(
        UpstreamUnavailable, "could not connect to Slack", False
    ),
    aiohttp.ConnectionTimeoutError: ExceptionRule(
        UpstreamTimeout, "no connection to Slack in time", False
    ),
    aiohttp.ServerTimeoutError: ExceptionRule(
        UpstreamTimeout, "Slack did not answer in time", True
    ),
    aiohttp.ServerDisconnectedError: ExceptionRule(
        UpstreamUnavailable, "Slack closed the connection", True
    ),
    aiohttp.ClientConnectionError: ExceptionRule(
        UpstreamUnavailable, "the connection to Slack broke", True
    ),
    aiohttp.ClientPayloadError: ExceptionRule(
        UpstreamUnavailable, "Slack's answer was cut short", True
    ),
    aiohttp.ClientResponseError: ExceptionRule(
        UpstreamUnavailable, "Slack's answer was unusable", True
    ),
    aiohttp.InvalidURL: ExceptionRule(
        UpstreamUnavailable, "the Slack address is malformed: check SLACK_API_URL", False
    ),
    aiohttp.ClientError: ExceptionRule(UpstreamUnavailable, "the call to Slack failed", True),
    TimeoutError: ExceptionRule(UpstreamTimeout, "Slack did not answer in time", True),
}

# What `slack_errors` catches: every class above (and so their subclasses).
FOREIGN = tuple(EXCEPTION_RULES)


def exception_rule(exc_type: type[BaseException]) -> ExceptionRule:
    for cls in exc_type.__mro__:
        rule = EXCEPTION_RULES.get(cls)
        if rule is not None:
            return rule
    raise TypeError(f"{exc_type.__name__} is not a Slack client exception")


def api_error(method: str, code: str, retry_after: float | None = None) -> ApprovalsError:
    """Our error for Slack's ok:false answer `code` to `method`."""
    said = f"Slack {method} answered {code}"
    if code == RATE_LIMITED:
        return RateLimited(f"{said} (rate limited after retries)", retry_after=retry_after)
    for codes, cls in (
        (GONE, SlackGone),
        (CHANNEL_CLOSED, SlackChannelClosed),
        (APP_REVOKED, SlackAppRevoked),
        (CONFLICT, SlackConflict),
    ):
        if code in codes:
            return cls(said, error=code, method=method)
    return SlackRefused(said, error=code, method=method)


def slack_error(method: str, exc: BaseException, *, repeatable: bool) -> ApprovalsError:
    """Our error for any failure of a Web API call to `method`."""
    if isinstance(exc, sdk.SlackApiError):
        response = exc.response
        code = response.get("error") if hasattr(response, "get") else None
        if isinstance(code, str) and code:
            return api_error(method, code, _retry_after(exc))
    rule = exception_rule(type(exc))
    unknown = rule.delivered and not repeatable
    detail = f"Slack {method}: {rule.detail}"
    if unknown:
        detail += "; it may have been done anyway"
    if rule.error is SlackRefused:
        return SlackRefused(detail, error="unknown", method=method)
    return rule.error(detail, outcome_unknown=unknown)


def _retry_after(exc: sdk.SlackApiError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


@contextmanager
def slack_errors(method: str, *, repeatable: bool) -> Iterator[None]:
    """Run one Web API call; any slack_sdk or aiohttp failure leaves as our own error."""
    try:
        yield
    except FOREIGN as exc:
        raise slack_error(method, exc, repeatable=repeatable) from exc


def log_reason(exc: BaseException) -> str:
    """A short reason for a log line: Slack's error code, else the error's class."""
    code = getattr(exc, "error", None)
    return code if isinstance(code, str) else type(exc).__name__
