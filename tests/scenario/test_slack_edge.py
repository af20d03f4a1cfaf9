"""What reaches Bolt: every body Slack sends (Bolt misreads some on its own), nothing oversized,
no event twice. The real app over HTTP, signed as Slack signs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.slack_edge import (
    MAX_BODY_BYTES,
    bolt_form_body,
    field_names,
    form_unquote,
    interaction_json,
)
from emulators.slack import FakeSlack
from emulators.slack.signing import signed_headers
from tests.scenario.harness import (
    SIGNING_SECRET,
    RunningBot,
    bot_environment,
    bot_in_thread,
    running_bot,
)

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def bot(fake_slack: FakeSlack, redis: object, redis_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(bot_environment(fake_slack.api_url, redis_url)) as running:
        yield running


def slash_body(text: str, *, channel_name: str = "general", user_name: str = "alice") -> str:
    """A slash command body with every field Slack sends, in Slack's order."""
    return urlencode(
        {
            "token": "unused-verification-token",
            "team_id": "T0TEAM",
            "team_domain": "acme",
            "channel_id": "C0GENERAL",
            "channel_name": channel_name,
            "user_id": "U0ALICE",
            "user_name": user_name,
            "command": "/approvals",
            "text": text,
            "api_app_id": "A0APP",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.invalid/commands/1",
            "trigger_id": "1.2.trigger",
        }
    )


def unknown_word_answer(text: str) -> bool:
    """The router's answer: help, with the exact problem for an unknown first word."""
    return "/approvals connect" in text


async def test_the_word_payload_in_a_command_reaches_the_listener(bot: RunningBot) -> None:
    # Bolt alone reads this body as an interaction with no payload, and answers 404.
    for body in (
        slash_body("payload"),
        slash_body("frobnicate", channel_name="payload-reviews"),
        slash_body("frobnicate", user_name="payloadmaster"),
        slash_body('{"payload": 1}'),
    ):
        response = await bot.post_signed(body, FORM)
        assert response.status_code == 200, body
        assert unknown_word_answer(response.json()["text"])


async def test_a_bad_signature_on_a_reencoded_body_is_still_refused(bot: RunningBot) -> None:
    body = slash_body("payload")
    headers = signed_headers("not-the-secret", body, content_type=FORM)
    response = await bot.http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert response.status_code == 401


def test_reencoding_keeps_every_field_and_hides_the_word() -> None:
    body = slash_body("payload & = + % 😀", channel_name="payload")
    changed = bolt_form_body(body)
    assert "payload" not in changed
    assert parse_qsl(changed, keep_blank_values=True) == parse_qsl(body, keep_blank_values=True)
    interaction = "payload=" + "%7B%7D"
    assert bolt_form_body(interaction) == interaction


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("payld=&%+2 0Aa;\u00e9")))
def test_field_names_are_the_names_parse_qsl_finds(text: str) -> None:
    # The edge reads only the names, leaving an interaction's large value undecoded.
    assert field_names(text) == {name for name, _ in parse_qsl(text, keep_blank_values=True)}


@settings(max_examples=2000, deadline=None)
@given(text=st.text(alphabet=st.sampled_from('%+= \n\r\t_aAfF09gZ{}"\u00e9\u20ac')))
def test_form_unquote_decodes_as_unquote_plus(text: str) -> None:
    assert form_unquote(text) == unquote_plus(text)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=4))
def test_an_interaction_reaches_bolt_as_the_json_it_carries(value: dict[str, str]) -> None:
    payload = json.dumps({"type": "view_submission", "value": value})
    body = "payload=" + quote_plus(payload)
    decoded = interaction_json(body)
    assert decoded is not None
    assert json.loads(decoded) == json.loads(dict(parse_qsl(body))["payload"])
    # Anything else is left for Bolt to read as before.
    assert interaction_json(body + "&more=1") is None
    assert interaction_json("payload=" + quote_plus("[1]")) is None
    assert interaction_json(slash_body("payload")) is None


# -- the property: any text, channel or user name reaches the command listener ---------------

_SUBCOMMANDS = {
    "help", "connect", "disconnect", "enroll", "status", "lost", "request", "pending",
    "approve", "reject", "watch", "unwatch", "tokens", "audit",
}  # fmt: skip
_TRICKY = st.sampled_from(
    ["payload", "payload=", "&payload=x", "{", '{"a":1}', "%", "%zz", "+", "=", "&", ""]
)
_TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(_TRICKY, st.text(max_size=12)), max_size=8).map(" ".join),
    st.just("payload " * 375),  # 3,000 characters
    st.text(alphabet="payload{}&=+%", min_size=2900, max_size=3000),
)


@pytest.fixture(scope="module")
def threaded_bot(redis_url: str) -> Iterator[RunningBot]:
    with (
        FakeSlack().run_in_thread() as slack,
        bot_in_thread(bot_environment(slack.api_url, redis_url)) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for every example: a connection kept open, not one set up for each post."""
    with httpx.Client(timeout=10) as client:
        yield client


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=_TEXT, channel=_TEXT, user=_TEXT)
def test_any_command_body_reaches_the_command_listener(
    threaded_bot: RunningBot, http: httpx.Client, text: str, channel: str, user: str
) -> None:
    words = text.split()
    # A real subcommand would go on to its own work; the router's own answer is the proof.
    assume(not words or words[0].lower() not in _SUBCOMMANDS)
    body = slash_body(text, channel_name=channel, user_name=user)
    headers = signed_headers(SIGNING_SECRET, body, content_type=FORM)
    response = http.post(f"{threaded_bot.url}/slack/events", content=body, headers=headers)
    assert response.status_code == 200, (response.status_code, response.text)
    assert unknown_word_answer(response.json()["text"])


# -- oversized bodies ----------------------------------------------------------------------


async def _raw_post(bot: RunningBot, head: str, first: bytes) -> tuple[bytes, float]:
    """Send a request head and the start of a body, then read the answer without sending the
    rest: an answer proves the server did not wait for the whole body."""
    host, port = bot.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.perf_counter()
    writer.write(head.encode() + first)
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    elapsed = time.perf_counter() - started
    writer.close()
    return answer, elapsed


async def test_a_body_declared_larger_than_slack_sends_is_refused_unread(bot: RunningBot) -> None:
    size = 20 * 1024 * 1024
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: bot\r\n"
        f"Content-Type: {FORM}\r\nContent-Length: {size}\r\n\r\n"
    )
    answer, _ = await _raw_post(bot, head, b"x" * 1024)
    assert answer.startswith(b"HTTP/1.1 413")


async def test_a_streamed_body_is_cut_off_at_the_limit(bot: RunningBot) -> None:
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: bot\r\n"
        f"Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    over = MAX_BODY_BYTES // len(chunk) + 2
    answer, _ = await _raw_post(bot, head, framed * over)  # never the closing chunk
    assert answer.startswith(b"HTTP/1.1 413")


async def test_a_body_at_the_limit_is_still_read(bot: RunningBot) -> None:
    body = slash_body("frobnicate " + "y" * 10_000)
    response = await bot.post_signed(body, FORM)
    assert response.status_code == 200


# -- event retries -------------------------------------------------------------------------


def _home_event(event_id: str) -> str:
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": "U0ALICE", "tab": "home"},
        }
    )


async def test_an_event_slack_sends_again_is_handled_once(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    body = _home_event("Ev0RETRY")
    first = await bot.post_signed(body, "application/json")
    assert first.status_code == 200
    await fake_slack.wait_for("views.publish")
    headers = signed_headers(SIGNING_SECRET, body, content_type="application/json")
    headers |= {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    again = await bot.http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert again.status_code == 200
    other = await bot.post_signed(_home_event("Ev0OTHER"), "application/json")
    assert other.status_code == 200
    await fake_slack.wait_for("views.publish", count=2)
    await asyncio.sleep(0.2)
    assert len(fake_slack.calls_to("views.publish")) == 2  # the retry published nothing
