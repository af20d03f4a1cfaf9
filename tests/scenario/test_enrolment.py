"""Approval Token over HTTP: /approvals enroll -> QR in a DM -> Enter code -> modal -> active;
the modal's errors, /approvals lost, re-enrolment, the expiry and reminder jobs, and the places
the secret must never be (logs at DEBUG, the audit trail, Slack after activation, Redis).

The QR is read with OpenCV (tests/qr.py) and codes come from testkit/rfc6238.py, never pyotp.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from bot.stores.client import RedisClient
from bot.wiring import EXPIRE_ENROLMENTS_JOB, TOKEN_REMINDERS_JOB
from emulators.approvalflow.seed import ALICE
from emulators.slack import FakeMessage, FakeSlack, FakeView, ResponsePost
from emulators.slack.blockkit_limits import message_problems, view_problems
from testkit.browser import consent_form
from testkit.rfc6238 import code_for_step, key_from_base32, parse_otpauth
from tests.fakes.clock import FakeClock
from tests.qr import decode_qr_png
from tests.scenario.harness import RunningBot, bot_environment, running_bot

USER = "U0ALICE"
TEAM = "T0TEAM"
SECURITY = "C0SECURITY"
ENTER_CODE = "token_enter_code"
# FakeClock starts at 2026-11-23 09:00:00 UTC; tokens last TOKEN_VALIDITY_DAYS (30) from then.
ACTIVE_UNTIL = "2026-12-23 09:00 UTC"


@dataclass(frozen=True)
class Dm:
    """What one enrolment put in the DM: the message with the key, the QR file, the QR's text."""

    message: FakeMessage
    file_id: str
    uri: str
    secret: str
    enrolment_id: str


@dataclass
class Token:
    """The running bot with the sandbox mounted, the fake Slack, the clock and a browser."""

    bot: RunningBot
    slack: FakeSlack
    clock: FakeClock
    browser: httpx.AsyncClient

    async def run(self, text: str, user: str = USER) -> ResponsePost:
        """A slash command; returns what it posted to its response_url."""
        url = self.slack.new_response_url(user=user)
        response = await self.bot.command(text, user_id=user, team_id=TEAM, response_url=url)
        assert response.status_code == 200 and response.text == ""  # acked empty, at once
        return await self.answer_on(url)

    async def answer_on(self, url: str) -> ResponsePost:
        post = await self.slack.response_post(url)
        assert message_problems(post.text or "", post.blocks or []) == []
        return post

    async def link(self, user: str = USER, who: str = "alice@example.com") -> None:
        """Link through the sandbox the way a browser does: consent page, Allow, callback."""
        start = await self.bot.container.linking.start(TEAM, user)
        page = await self.browser.get(start.authorize_url)
        action, fields = consent_form(page.text)
        assert self.bot.container.sandbox is not None
        fields["account_id"] = self.bot.container.sandbox.user(who).account_id
        done = await self.browser.post(page.url.join(action), data={**fields, "decision": "allow"})
        assert done.status_code == 200 and done.url.query == b"result=linked", done.text

    async def enroll(self, user: str = USER) -> Dm:
        post = await self.run("enroll", user)
        assert "I sent you a direct message" in (post.text or ""), post.text
        shown = self.slack.dm_messages(user)
        message = shown[-1]
        share = shown[-2]  # files_upload_v2 shares the QR in the DM just before the key
        [button] = [
            e for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]
        ]
        assert button["action_id"] == ENTER_CODE
        file_id = str(share.files[0]["id"])
        content = self.slack.files[file_id].content
        assert content is not None
        uri = decode_qr_png(content)
        _, secret, _ = parse_otpauth(uri)
        return Dm(message, file_id, uri, secret, str(button["value"]))

    def code(self, secret: str, steps: int = 0) -> str:
        return code_for_step(secret, int(self.clock.now().timestamp()) // 30 + steps)

    def wrong_code(self, secret: str) -> str:
        accepted = {self.code(secret, offset) for offset in (-1, 0, 1)}
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)

    async def open_modal(self, dm: Dm, user: str = USER) -> FakeView:
        """Press Enter code: block_actions with a fresh trigger id; the bot opens the modal."""
        opened = len(self.slack.calls_to("views.open"))
        message = dm.message
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM},
            "api_app_id": self.slack.app_id,
            "trigger_id": self.slack.new_trigger_id(user),
            "container": {
                "type": "message",
                "channel_id": message.channel,
                "message_ts": message.ts,
                "is_ephemeral": False,
            },
            "channel": {"id": message.channel},
            "message": message.to_api(),
            "response_url": self.slack.new_response_url(
                channel=message.channel, user=user, message_ts=message.ts
            ),
            "actions": [
                {
                    "type": "button",
                    "action_id": ENTER_CODE,
                    "block_id": "enrol",
                    "value": dm.enrolment_id,
                    "action_ts": "1.2",
                }
            ],
        }
        response = await self.bot.interact(payload)
        assert response.status_code == 200
        [call] = (await self.slack.wait_for("views.open", opened + 1))[opened:]
        assert call.ok, call.response
        return self.slack.view_stack(user)[-1]

    async def submit(self, view: FakeView, code: str | None, user: str = USER) -> dict[str, Any]:
        """Submit the modal with `code` typed in; returns the ack body (the response_action)."""
        state = {"values": {"code": {"code": {"type": "plain_text_input", "value": code}}}}
        payload = {
            "type": "view_submission",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM},
            "api_app_id": self.slack.app_id,
            "trigger_id": self.slack.new_trigger_id(user),
            "view": {**view.view, "state": state},  # view.type included: Bolt needs it
        }
        response = await self.bot.interact(payload)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def job(self, name: str) -> None:
        [job] = [j for j in self.bot.container.jobs.jobs if j.name == name]
        await job.run()

    async def audit(self) -> list[Any]:
        return [entry async for entry in self.bot.container.audit_log.entries()]


def inline_error(answer: dict[str, Any]) -> str:
    assert answer["response_action"] == "errors", answer
    return str(answer["errors"]["code"])


def says_sandbox(blocks: Iterable[dict[str, Any]] | None) -> bool:
    return any("sandbox" in json.dumps(block) for block in blocks or [])


@pytest.fixture
async def token(
    fake_slack: FakeSlack, redis: Redis, redis_url: str, clock: FakeClock
) -> AsyncIterator[Token]:
    # `redis` flushes the shared server first, so nothing sealed by another test's key remains.
    fake_slack.add_user(USER, real_name="Alice Anders", email="alice@example.com")
    env = bot_environment(fake_slack.api_url, redis_url, SECURITY_CHANNEL=SECURITY)
    async with (
        running_bot(env, clock=clock) as bot,
        httpx.AsyncClient(follow_redirects=True, timeout=10) as browser,
    ):
        yield Token(bot, fake_slack, clock, browser)


# --- where a secret must never be ---------------------------------------------------------


def leaks(text: str, secret: str, uri: str, codes: Iterable[str]) -> list[str]:
    """Which of the secret (plain or grouped), the otpauth URI or a code appear in `text`."""
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    found = [
        name for name, value in (("secret", secret), ("grouped key", grouped)) if value in text
    ]
    if "otpauth://" in text or uri in text:
        found.append("otpauth URI")
    # A code is 6 digits on its own, not part of a longer number (a timestamp, a port ...).
    found += [f"code {c}" for c in codes if re.search(rf"(?<!\d){c}(?!\d)", text)]
    return found


def _flatten(value: Any) -> Iterator[bytes]:
    if isinstance(value, bytes):
        yield value
    elif isinstance(value, str | int | float):
        yield str(value).encode()
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(key)
            yield from _flatten(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _flatten(item)


async def redis_dump(redis: RedisClient) -> bytes:
    """Every key and value in the store, raw, one per line."""
    parts: list[bytes] = []
    for key in await redis.keys("*"):
        kind = next(_flatten(await redis.type(key))).decode()
        value: Any
        if kind == "string":
            value = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = await redis.xrange(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        else:
            value = await redis.smembers(key)
        parts.extend(_flatten([key, value]))
    return b"\n".join(parts)


# --- the whole way through ----------------------------------------------------------------


async def test_enroll_scan_and_confirm_over_http(
    token: Token, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await token.link()
    dm = await token.enroll()

    # The QR, read by OpenCV: the key URI with the issuer twice and only the defaults.
    label, secret, params = parse_otpauth(dm.uri)
    assert label == "ApprovalFlow:alice@example.com"
    assert params == {"secret": secret, "issuer": "ApprovalFlow"}
    assert len(key_from_base32(secret)) == 20  # 160 bits
    file = fake_slack.files[dm.file_id]
    assert file.mimetype == "image/png" and file.channels == [dm.message.channel]
    assert dm.message.channel == fake_slack.dm_channel_id(USER)
    # The key as text for people who cannot scan, in groups of four; never in the fallback
    # text that notifications show.
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert grouped in json.dumps(dm.message.blocks)
    assert secret not in dm.message.text and grouped not in dm.message.text
    assert says_sandbox(dm.message.blocks)

    view = await token.open_modal(dm)
    assert view.callback_id == "token_activate" and view.private_metadata == dm.enrolment_id
    [field] = [b for b in view.blocks if b["type"] == "input"]
    assert "code" in field["label"]["text"].lower()
    assert field["element"]["type"] == "plain_text_input"
    assert field["element"]["max_length"] <= 12
    assert says_sandbox(view.blocks) and view_problems(view.view) == []

    code = token.code(secret)
    calls_before = len(fake_slack.calls)
    answer = await token.submit(view, code)
    assert answer["response_action"] == "update"
    assert view_problems(answer["view"]) == [] and says_sandbox(answer["view"]["blocks"])
    assert f"active until *{ACTIVE_UNTIL}*" in json.dumps(answer["view"])

    # The QR file and the message that carried the key are deleted; a short DM confirms.
    await fake_slack.wait_for("chat.postMessage", where=lambda c: "active until" in str(c.args))
    assert fake_slack.files[dm.file_id].deleted
    deleted = fake_slack.message(dm.message.channel, dm.message.ts)
    assert deleted is not None and deleted.deleted
    confirmation = fake_slack.dm_messages(USER)[-1]
    assert f"active until {ACTIVE_UNTIL}" in confirmation.text
    assert says_sandbox(confirmation.blocks)

    status = await token.run("status")
    text = status.text or ""
    assert f"*Approval Token*: active until {ACTIVE_UNTIL}" in text
    assert "last used 2026-11-23 09:00 UTC" in text and "failed attempts 0" in text
    assert says_sandbox(status.blocks)

    # Nowhere after activation: Slack calls, the DM as it stands, the logs, the audit, Redis.
    codes = [code]
    assert leaks(json.dumps([c.args for c in fake_slack.calls[:calls_before]]), secret, dm.uri, [])
    after = [*fake_slack.calls[calls_before:]]
    slack_after = json.dumps([[c.args, c.response] for c in after]) + json.dumps(answer)
    slack_after += json.dumps([p.payload for p in fake_slack.response_posts])
    assert leaks(slack_after, secret, dm.uri, codes) == []
    visible = json.dumps([m.to_api() for m in fake_slack.dm_messages(USER)])
    assert leaks(visible, secret, dm.uri, codes) == []
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "token verification" in logged  # DEBUG records were captured
    assert leaks(logged, secret, dm.uri, codes) == []
    entries = await token.audit()
    actions = [e.action for e in entries]
    assert "token.enrol.started" in actions and "token.enrol.activated" in actions
    assert leaks(repr(entries), secret, dm.uri, codes) == []
    dump = await redis_dump(token.bot.container.redis)
    assert leaks(dump.decode("utf-8", "replace"), secret, dm.uri, codes) == []
    assert key_from_base32(secret) not in dump
    assert fake_slack.violations == []


# --- the modal's errors -------------------------------------------------------------------


async def test_wrong_codes_say_tries_left_then_lock_and_alert(
    token: Token, fake_slack: FakeSlack
) -> None:
    await token.link()
    dm = await token.enroll()
    view = await token.open_modal(dm)
    wrong = token.wrong_code(dm.secret)
    for left in ("4 tries", "3 tries", "2 tries", "1 try"):
        assert f"({left} left before your token is locked)" in inline_error(
            await token.submit(view, wrong)
        )
    locked = inline_error(await token.submit(view, wrong))
    assert "locked until 2026-11-23 09:15 UTC" in locked

    # The person and the security channel are told at once (21 CFR 11.300(d)).
    [alert] = fake_slack.messages(SECURITY)
    assert "<@U0ALICE>" in alert.text and "locked until 2026-11-23 09:15 UTC" in alert.text
    assert says_sandbox(alert.blocks)
    assert any("locked until 2026-11-23 09:15 UTC" in m.text for m in fake_slack.dm_messages(USER))

    # Locked means locked: the right code too, and a new enrolment.
    assert "locked until" in inline_error(await token.submit(view, token.code(dm.secret)))
    refused = await token.run("enroll")
    assert "locked until 2026-11-23 09:15 UTC" in (refused.text or "")
    status = await token.run("status")
    assert "locked until 2026-11-23 09:15 UTC" in (status.text or "")
    assert "failed attempts 5" in (status.text or "")
    actions = [e.action for e in await token.audit()]
    assert actions.count("token.verify.failed") == 4 and actions.count("token.locked") == 1
    assert fake_slack.violations == []


async def test_malformed_input_is_an_inline_format_error_not_an_attempt(token: Token) -> None:
    await token.link()
    dm = await token.enroll()
    view = await token.open_modal(dm)
    for typed in (None, "", "12345", "1234567", "abcdef", "１２３４５６", "12 34 5x"):
        assert "6 digits" in inline_error(await token.submit(view, typed)), typed
    # None of those counted: the first wrong code still leaves 4 tries.
    wrong = inline_error(await token.submit(view, token.wrong_code(dm.secret)))
    assert "(4 tries left" in wrong
    spaced = token.code(dm.secret)
    answer = await token.submit(view, f" {spaced[:3]} {spaced[3:]} ")
    assert answer["response_action"] == "update"
    actions = [e.action for e in await token.audit()]
    assert actions.count("token.verify.malformed") == 7


async def test_a_used_time_step_says_wait_for_the_next_code(token: Token, redis: Redis) -> None:
    await token.link()
    dm = await token.enroll()
    view = await token.open_modal(dm)
    # Stand in for a signature that already used this 30 s step: the store remembers it.
    step = int(token.clock.now().timestamp()) // 30
    key = token.bot.container.keys.totp_token("U0ALICE")
    assert await redis.exists(key)
    await redis.hset(key, "last_step", str(step))
    reused = inline_error(await token.submit(view, token.code(dm.secret)))
    assert "Wait for the next code" in reused
    token.clock.advance(seconds=30)
    assert (await token.submit(view, token.code(dm.secret)))["response_action"] == "update"


async def test_a_second_submit_after_activation_is_refused_inline(token: Token) -> None:
    await token.link()
    dm = await token.enroll()
    view = await token.open_modal(dm)
    code = token.code(dm.secret)
    assert (await token.submit(view, code))["response_action"] == "update"
    again = inline_error(await token.submit(view, code))
    assert f"already active until {ACTIVE_UNTIL}" in again


# --- re-enrolment, lost, no link ----------------------------------------------------------


async def test_enrolling_again_deletes_the_old_qr_dm_at_once(
    token: Token, fake_slack: FakeSlack
) -> None:
    await token.link()
    first = await token.enroll()
    old_view = await token.open_modal(first)
    second = await token.enroll()
    assert second.secret != first.secret and second.enrolment_id != first.enrolment_id
    assert fake_slack.files[first.file_id].deleted
    gone = fake_slack.message(first.message.channel, first.message.ts)
    assert gone is not None and gone.deleted
    assert not fake_slack.files[second.file_id].deleted
    # The old modal, even with a code of the new secret, belongs to the replaced enrolment.
    replaced = inline_error(await token.submit(old_view, token.code(second.secret)))
    assert "replaced by a newer one" in replaced
    view = await token.open_modal(second)
    assert (await token.submit(view, token.code(second.secret)))["response_action"] == "update"


async def test_lost_revokes_audits_and_alerts(token: Token, fake_slack: FakeSlack) -> None:
    await token.link()
    dm = await token.enroll()
    await token.submit(await token.open_modal(dm), token.code(dm.secret))
    answer = await token.run("lost")
    assert "Your Approval Token is revoked" in (answer.text or "") and says_sandbox(answer.blocks)

    [alert] = fake_slack.messages(SECURITY)
    assert "<@U0ALICE> reported their Approval Token lost" in alert.text
    assert "it was active" in alert.text
    revoked = [e for e in await token.audit() if e.action == "token.revoked"]
    assert [(e.actor_slack_id, e.actor_atlassian_id, e.actor_name) for e in revoked] == [
        (USER, ALICE, "Alice Anders")
    ]
    assert "lost" in revoked[0].reason
    status = await token.run("status")
    assert "*Approval Token*: revoked on 2026-11-23 09:00 UTC" in (status.text or "")
    nothing = await token.run("lost")
    assert "nothing was revoked" in (nothing.text or "")


async def test_lost_while_pending_deletes_the_qr_dm(token: Token, fake_slack: FakeSlack) -> None:
    await token.link()
    dm = await token.enroll()
    await token.run("lost")
    assert fake_slack.files[dm.file_id].deleted
    gone = fake_slack.message(dm.message.channel, dm.message.ts)
    assert gone is not None and gone.deleted
    assert "it was pending" in fake_slack.messages(SECURITY)[0].text


async def test_enroll_without_a_link_offers_connect(token: Token, fake_slack: FakeSlack) -> None:
    answer = await token.run("enroll")
    assert "Link your Atlassian account first" in (answer.text or "")
    assert says_sandbox(answer.blocks)
    [button] = [e for b in answer.blocks or [] if b["type"] == "actions" for e in b["elements"]]
    assert fake_slack.files == {} and fake_slack.dm_messages(USER) == []

    url = fake_slack.new_response_url(user=USER)
    pressed = await token.bot.interact(
        {
            "type": "block_actions",
            "user": {"id": USER, "team_id": TEAM},
            "team": {"id": TEAM},
            "api_app_id": fake_slack.app_id,
            "trigger_id": fake_slack.new_trigger_id(USER),
            "container": {"type": "message", "is_ephemeral": True},
            "response_url": url,
            "actions": [{"type": "button", "action_id": button["action_id"], "action_ts": "1"}],
        }
    )
    assert pressed.status_code == 200
    connect = await token.answer_on(url)
    assert connect.kind == "replace_original"
    [link] = [e for b in connect.blocks or [] if b["type"] == "actions" for e in b["elements"]]
    assert "/sandbox/authorize?" in link["url"] and "state=" in link["url"]


# --- jobs ---------------------------------------------------------------------------------


async def test_expiry_job_deletes_the_qr_after_ten_minutes(
    token: Token, fake_slack: FakeSlack
) -> None:
    await token.link()
    dm = await token.enroll()
    view = await token.open_modal(dm)
    token.clock.advance(minutes=9, seconds=59)
    await token.job(EXPIRE_ENROLMENTS_JOB)
    assert not fake_slack.files[dm.file_id].deleted

    token.clock.advance(seconds=2)
    await token.job(EXPIRE_ENROLMENTS_JOB)
    assert fake_slack.files[dm.file_id].deleted
    gone = fake_slack.message(dm.message.channel, dm.message.ts)
    assert gone is not None and gone.deleted
    told = fake_slack.dm_messages(USER)[-1]
    assert "enrolment expired" in told.text and says_sandbox(told.blocks)
    expired = inline_error(await token.submit(view, token.code(dm.secret)))
    assert "/approvals enroll" in expired
    status = await token.run("status")
    assert "*Approval Token*: not enrolled" in (status.text or "")
    # Handed out once: a second run has nothing left to do.
    calls = len(fake_slack.calls)
    await token.job(EXPIRE_ENROLMENTS_JOB)
    assert len(fake_slack.calls) == calls


async def test_reminder_job_dms_once_7_days_and_once_1_day_before(
    token: Token, fake_slack: FakeSlack
) -> None:
    await token.link()
    dm = await token.enroll()
    await token.submit(await token.open_modal(dm), token.code(dm.secret))
    expires = datetime(2026, 12, 23, 9, 0, tzinfo=UTC)

    def reminders() -> list[str]:
        return [m.text for m in fake_slack.dm_messages(USER) if "expires" in m.text]

    await token.job(TOKEN_REMINDERS_JOB)
    assert reminders() == []
    token.clock.set(expires - timedelta(days=7) + timedelta(minutes=1))
    await token.job(TOKEN_REMINDERS_JOB)
    await token.job(TOKEN_REMINDERS_JOB)
    assert len(reminders()) == 1 and "expires in 7 days" in reminders()[0]
    token.clock.set(expires - timedelta(days=1) + timedelta(minutes=1))
    await token.job(TOKEN_REMINDERS_JOB)
    await token.job(TOKEN_REMINDERS_JOB)
    assert len(reminders()) == 2 and "expires tomorrow" in reminders()[1]
    assert ACTIVE_UNTIL in reminders()[1]
    assert all(says_sandbox(m.blocks) for m in fake_slack.dm_messages(USER) if "expires" in m.text)


async def test_a_slack_failure_in_the_expiry_job_strands_nothing_else(
    token: Token, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.add_user("U0BOB", real_name="Bob Baker", email="bob@example.com")
    await token.link()
    await token.link("U0BOB", "bob@example.com")
    dms = [await token.enroll(), await token.enroll("U0BOB")]
    token.clock.advance(minutes=11)
    fake_slack.fail_next("files.delete", "internal_error")
    container = token.bot.container
    [job] = [j for j in container.jobs.jobs if j.name == EXPIRE_ENROLMENTS_JOB]
    assert await container.jobs.run_once(job)  # counted as failed, not crashed

    # One file could not be deleted; both messages with a setup key still went, the other
    # enrolment was cleaned up, and both people were told.
    assert sorted(fake_slack.files[dm.file_id].deleted for dm in dms) == [False, True]
    for dm in dms:
        gone = fake_slack.message(dm.message.channel, dm.message.ts)
        assert gone is not None and gone.deleted
    for user in (USER, "U0BOB"):
        assert "enrolment expired" in fake_slack.dm_messages(user)[-1].text
    failed = b'approvals_job_runs_total{job="expire-enrolments",outcome="failed"} 1.0'
    assert failed in container.metrics.render()
    # Where the stranded file is, for an admin; the job's own failure line says how many.
    [logged] = [r for r in caplog.records if r.getMessage() == "enrolment DM not deleted"]
    assert logged.levelno == logging.ERROR and logged.__dict__["slack_error"] == "internal_error"
    stranded = next(dm for dm in dms if not fake_slack.files[dm.file_id].deleted)
    assert logged.__dict__["file"] == stranded.file_id and logged.__dict__["why"] == "expired"
