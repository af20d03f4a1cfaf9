"""The Slack failure map (bot/slack/failures.py) is complete and lands each failure right."""

from __future__ import annotations

import asyncio
import inspect

import aiohttp
import pytest
from slack_sdk import errors as sdk
from slack_sdk.web.slack_response import SlackResponse

from bot.slack.client import SAFE_TO_REPEAT, method_of
from bot.slack.failures import (
    APP_REVOKED,
    CHANNEL_CLOSED,
    CONFLICT,
    EXCEPTION_RULES,
    GONE,
    exception_rule,
    slack_error,
    slack_errors,
)
from services.errors import (
    RateLimited,
    SlackAppRevoked,
    SlackChannelClosed,
    SlackConflict,
    SlackGone,
    SlackRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)


def _exported(module: object, base: type[BaseException]) -> set[type[BaseException]]:
    return {
        value for _, value in inspect.getmembers(module, inspect.isclass) if issubclass(value, base)
    }


def test_every_slack_sdk_error_class_is_named_in_the_map() -> None:
    missing = _exported(sdk, sdk.SlackClientError) - set(EXCEPTION_RULES)
    assert missing == set(), f"add rules for {sorted(c.__name__ for c in missing)}"


def test_every_aiohttp_client_error_lands_on_a_rule() -> None:
    classes = _exported(aiohttp, aiohttp.ClientError)
    assert len(classes) > 20  # the walk below really covers aiohttp's tree
    for cls in classes:
        assert issubclass(exception_rule(cls).error, UpstreamUnavailable | UpstreamTimeout)


def test_timeouts_are_timeouts() -> None:
    assert exception_rule(asyncio.TimeoutError).error is UpstreamTimeout
    assert exception_rule(aiohttp.ConnectionTimeoutError).error is UpstreamTimeout


def test_a_foreign_class_outside_the_map_is_a_bug_not_a_silent_rule() -> None:
    with pytest.raises(TypeError):
        exception_rule(KeyError)


def test_code_sets_do_not_overlap() -> None:
    sets = [GONE, CHANNEL_CLOSED, APP_REVOKED, CONFLICT]
    for i, one in enumerate(sets):
        for other in sets[i + 1 :]:
            assert one.isdisjoint(other)


def _api_error(code: str, headers: dict[str, str] | None = None) -> sdk.SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.invalid/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": code},
        headers=headers or {},
        status_code=429 if code == "ratelimited" else 200,
    )
    return sdk.SlackApiError("refused", response)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        *((code, SlackGone) for code in sorted(GONE)),
        *((code, SlackChannelClosed) for code in sorted(CHANNEL_CLOSED)),
        *((code, SlackAppRevoked) for code in sorted(APP_REVOKED)),
        *((code, SlackConflict) for code in sorted(CONFLICT)),
        ("invalid_blocks", SlackRefused),
    ],
)
def test_each_code_maps_to_its_class(code: str, cls: type[SlackRefused]) -> None:
    error = slack_error("chat.postMessage", _api_error(code), repeatable=False)
    assert type(error) is cls
    assert isinstance(error, SlackRefused)
    assert error.error == code and error.method == "chat.postMessage"


def test_a_429_after_the_retries_is_rate_limited_with_its_wait() -> None:
    error = slack_error(
        "chat.postMessage", _api_error("ratelimited", {"Retry-After": "3"}), repeatable=False
    )
    assert isinstance(error, RateLimited) and error.retry_after == 3.0


def test_a_post_that_may_have_reached_slack_has_an_unknown_outcome() -> None:
    broke = aiohttp.ServerDisconnectedError()
    post = slack_error("chat.postMessage", broke, repeatable=False)
    read = slack_error("users.info", broke, repeatable=True)
    assert isinstance(post, UpstreamUnavailable) and post.outcome_unknown
    assert isinstance(read, UpstreamUnavailable) and not read.outcome_unknown
    # A refused connection never reached Slack: nothing can have been posted.
    assert not exception_rule(aiohttp.ClientConnectorError).delivered


def test_the_context_manager_maps_and_chains() -> None:
    with pytest.raises(SlackGone) as caught, slack_errors("chat.update", repeatable=True):
        raise _api_error("message_not_found")
    assert isinstance(caught.value.__cause__, sdk.SlackApiError)


def test_safe_methods_are_named_as_slack_spells_them() -> None:
    assert method_of("https://slack.com/api/chat.update") == "chat.update"
    assert method_of("http://127.0.0.1:5/api/users.info?x=1") == "users.info"
    assert "chat.postMessage" not in SAFE_TO_REPEAT and "views.open" not in SAFE_TO_REPEAT
