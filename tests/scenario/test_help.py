"""`/approvals help` end to end: the real app on a port, signed requests, 401 for bad ones."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from emulators.slack import FakeSlack
from emulators.slack.blockkit_limits import message_problems
from emulators.slack.signing import command_body, signature
from tests.scenario.harness import RunningBot, bot_environment, running_bot


@pytest.fixture
async def bot(fake_slack: FakeSlack, redis: object, redis_url: str) -> AsyncIterator[RunningBot]:
    # `redis` flushes the shared server: the Home tab reads links other tests sealed.
    async with running_bot(bot_environment(fake_slack.api_url, redis_url)) as running:
        yield running


def dispatched(bot: RunningBot) -> float:
    value = bot.container.metrics.registry.get_sample_value(
        "approvals_slack_dispatched_total", {"kind": "command"}
    )
    return value or 0.0


async def test_signed_help_gets_the_help_text(bot: RunningBot) -> None:
    response = await bot.command("help")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    for usage in (
        "connect",
        "enroll",
        "request <change-set-id|page-id|page-url>",
        "approve <request-id>",
        "tokens",
    ):
        assert f"/approvals {usage}" in body["text"]
    assert message_problems(body["text"], body["blocks"]) == []
    assert "sandbox" in body["blocks"][-1]["elements"][0]["text"]
    assert dispatched(bot) == 1


async def test_empty_text_is_help(bot: RunningBot) -> None:
    response = await bot.command("")
    assert response.status_code == 200 and "/approvals connect" in response.json()["text"]


async def test_unknown_subcommand_gets_help_and_the_exact_problem(bot: RunningBot) -> None:
    response = await bot.command("frobnicate now")
    body = response.json()
    assert response.status_code == 200
    assert body["text"].startswith("`frobnicate` is not a command I know.")
    assert "/approvals connect" in body["text"]
    assert message_problems(body["text"], body["blocks"]) == []


async def test_stray_quotes_and_escaped_labels_are_read_as_words(bot: RunningBot) -> None:
    response = await bot.command('"help')
    assert response.status_code == 200
    assert response.json()["text"].startswith('`"help` is not a command I know.')
    response = await bot.command('frob <https://x.invalid/p|Page\'s "title">')
    assert response.json()["text"].startswith("`frob` is not a command I know.")


async def test_wrong_signature_is_401_and_nothing_runs(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    body = command_body("help")
    ts = str(int(time.time()))
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature("not-the-secret", ts, body),
    }
    response = await bot.http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert dispatched(bot) == 0 and fake_slack.calls == []


async def test_missing_signature_header_is_401(bot: RunningBot, fake_slack: FakeSlack) -> None:
    body = command_body("help")
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": str(int(time.time())),
    }
    response = await bot.http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert dispatched(bot) == 0 and fake_slack.calls == []


async def test_timestamp_older_than_five_minutes_is_401(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    response = await bot.post_signed(
        command_body("help"), "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301
    )
    assert response.status_code == 401
    assert dispatched(bot) == 0 and fake_slack.calls == []


async def test_tampered_body_is_401(bot: RunningBot) -> None:
    body = command_body("help")
    ts = str(int(time.time()))
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature(bot.secret, ts, body),
    }
    response = await bot.http.post(
        f"{bot.url}/slack/events", content=body.replace("help", "tokens"), headers=headers
    )
    assert response.status_code == 401 and dispatched(bot) == 0


async def test_healthz_and_metrics(bot: RunningBot) -> None:
    assert (await bot.http.get(f"{bot.url}/healthz")).status_code == 200
    await bot.command("help")
    metrics = (await bot.http.get(f"{bot.url}/metrics")).text
    assert 'approvals_http_requests_total{route="/slack/events",status="200"}' in metrics


async def test_app_home_is_published_and_valid(bot: RunningBot, fake_slack: FakeSlack) -> None:
    event = {
        "type": "event_callback",
        "team_id": "T0TEAM",
        "api_app_id": "A0APP",
        "event_id": "Ev1",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": "U0ALICE",
            "channel": "D0ALICE",
            "tab": "home",
        },
    }
    response = await bot.post_signed(json.dumps(event), "application/json")
    assert response.status_code == 200
    await fake_slack.wait_for("views.publish")
    home = fake_slack.home_view("U0ALICE")
    assert home is not None and fake_slack.violations == []
