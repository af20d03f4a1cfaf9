"""Linking over HTTP: /approvals connect -> the sandbox's consent page -> callback -> status,
each way it can fail, bad input at the callback, and what the store and the logs never hold."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.stores.client import RedisClient
from bot.stores.linking import RedisGrantStore
from emulators.approvalflow import SandboxState
from emulators.approvalflow.seed import ALICE, BOB, OTHER_SITE_URL, SITE_ID, SITE_URL
from emulators.slack import FakeSlack, ResponsePost
from emulators.slack.blockkit_limits import message_problems
from services.errors import LinkBroken
from services.linking import SealedGrants
from services.linking.models import REQUESTED_SCOPES, Grant
from services.outbound_tls import shared_tls_context
from testkit.browser import consent_form
from testkit.redis_server import free_port
from tests.fakes.clock import FakeClock
from tests.scenario.harness import RunningBot, bot_environment, running_bot

CLIENT_SECRET = "scenario-client-secret-5b1e"  # looked for where it must never be


@dataclass
class Linking:
    """The running bot, fake Slack and the bot's mounted sandbox, with a browser."""

    bot: RunningBot
    slack: FakeSlack
    clock: FakeClock
    browser: httpx.AsyncClient

    @property
    def sandbox(self) -> SandboxState:
        assert self.bot.container.sandbox is not None
        return self.bot.container.sandbox

    @property
    def redirect_uri(self) -> str:
        return self.bot.container.settings.redirect_uri

    async def run(self, text: str, user: str = "U0ALICE") -> ResponsePost:
        """A slash command whose answer comes back on the response_url."""
        url = self.slack.new_response_url(user=user)
        response = await self.bot.command(text, user_id=user, response_url=url)
        assert response.status_code == 200 and response.text == ""
        post = await self.slack.response_post(url)
        assert message_problems(post.text or "", post.blocks or []) == []
        return post

    async def connect_url(self, user: str = "U0ALICE") -> str:
        post = await self.run("connect", user)
        [button] = [e for b in post.blocks or [] if b["type"] == "actions" for e in b["elements"]]
        return str(button["url"])

    async def consent(self, url: str, who: str, decision: str = "allow") -> httpx.Response:
        """Open the authorize URL, pick `who`, press the button; follow every redirect."""
        page = await self.browser.get(url)
        assert page.status_code == 200, page.text
        action, fields = consent_form(page.text)
        fields["account_id"] = self.sandbox.user(who).account_id
        return await self.browser.post(page.url.join(action), data={**fields, "decision": decision})

    async def callback_url(self, who: str = "alice@example.com", user: str = "U0ALICE") -> str:
        """The URL Atlassian sends the browser to (with code and state), not yet followed."""
        page = await self.browser.get(await self.connect_url(user))
        action, fields = consent_form(page.text)
        fields["account_id"] = self.sandbox.user(who).account_id
        answer = await self.browser.post(
            page.url.join(action), data={**fields, "decision": "allow"}, follow_redirects=False
        )
        assert answer.status_code == 302
        return answer.headers["location"]

    async def grant(self, user: str = "U0ALICE") -> Grant | None:
        container = self.bot.container
        return await SealedGrants(
            RedisGrantStore(container.redis, container.keys), container.box
        ).get(user)

    async def audit_actions(self) -> list[str]:
        return [entry.action async for entry in self.bot.container.audit_log.entries()]


def assert_result(response: httpx.Response, linking: Linking, reason: str, status: int) -> None:
    """A clean final URL (no code, no state), the expected page, no markup from outside."""
    assert str(response.url) == f"{linking.redirect_uri}?result={reason}"
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    # Each hop of the way: the callback redirect never carries a code onwards.
    for hop in response.history:
        if hop.url.path == "/atlassian/callback":
            assert "code=" not in hop.headers.get("location", "")


@pytest.fixture
async def linking(
    fake_slack: FakeSlack, redis: Redis, redis_url: str, clock: FakeClock
) -> AsyncIterator[Linking]:
    # `redis` flushes the shared server first: grants sealed by an earlier test's key must go.
    fake_slack.add_user("U0ALICE", real_name="Alice Anders", email="alice@example.com")
    fake_slack.add_user("U0BOB", real_name="Bob Baker", email="Bob@Example.com")
    env = bot_environment(fake_slack.api_url, redis_url, ATLASSIAN_CLIENT_SECRET=CLIENT_SECRET)
    async with (
        running_bot(env, clock=clock) as bot,
        httpx.AsyncClient(
            follow_redirects=True, timeout=10, verify=shared_tls_context()
        ) as browser,
    ):
        yield Linking(bot, fake_slack, clock, browser)


# --- the whole way through ---------------------------------------------------------------


async def test_connect_consent_callback_status(linking: Linking, fake_slack: FakeSlack) -> None:
    url = await linking.connect_url()
    parts = urlsplit(url)
    # The browser goes to the sandbox mounted in the bot, at the redirect URI's origin.
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == linking.redirect_uri.replace(
        "/atlassian/callback", "/sandbox/authorize"
    )
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["audience"] == "api.atlassian.com"
    assert query["response_type"] == "code" and query["prompt"] == "consent"
    assert query["redirect_uri"] == linking.redirect_uri
    assert query["scope"].split() == list(REQUESTED_SCOPES)
    assert len(query["state"]) >= 40

    result = await linking.consent(url, "alice@example.com")
    assert_result(result, linking, "linked", 200)
    assert "Your Atlassian account is linked" in result.text and "sandbox" in result.text

    grant = await linking.grant()
    assert grant is not None and not grant.broken
    assert (grant.account_id, grant.cloud_id, grant.site_url) == (ALICE, SITE_ID, SITE_URL)
    assert grant.email == "alice@example.com" and grant.name == "Alice Anders"
    assert grant.scopes == frozenset(REQUESTED_SCOPES)
    assert grant.expires_at == linking.clock.now() + timedelta(hours=1)
    assert grant.access_token not in result.text and grant.refresh_token not in result.text

    [dm] = fake_slack.dm_messages("U0ALICE")
    assert "now linked" in dm.text and "Alice Anders" in dm.text and SITE_URL in dm.text
    assert await linking.audit_actions() == ["link.connected"]

    status = await linking.run("status")
    text = status.text or ""
    assert "linked" in text and SITE_URL in text and ALICE in text
    assert "Permissions missing: none" in text
    assert "Last refreshed: 2026-11-23 09:00 UTC" in text
    assert fake_slack.violations == []


async def test_the_vault_refreshes_through_the_sandbox(linking: Linking) -> None:
    await linking.consent(await linking.connect_url(), "alice@example.com")
    vault = linking.bot.container.vault
    first = await vault.access_token_for("U0ALICE")
    assert linking.sandbox.refresh_count() == 0
    linking.clock.advance(minutes=59, seconds=30)
    second = await vault.access_token_for("U0ALICE")
    assert second.access_token != first.access_token and second.cloud_id == SITE_ID
    assert linking.sandbox.refresh_count("alice@example.com") == 1
    # ... and the new token works at the gateway.
    me = await linking.browser.get(
        f"{linking.bot.url}/sandbox/me", headers={"Authorization": f"Bearer {second.access_token}"}
    )
    assert me.json()["account_id"] == ALICE
    status = await linking.run("status")
    assert "Last refreshed: 2026-11-23 09:59 UTC" in (status.text or "")
    container = linking.bot.container
    assert "refresh-idle-links" in [job.name for job in container.jobs.jobs]
    assert (container.settings.DATA_DIR / "sandbox.json").exists(), "the sandbox persists"


async def test_the_connect_button_click_is_acked(linking: Linking) -> None:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0ALICE"},
        "api_app_id": "A0APP",
        "trigger_id": "1.2.3",
        "container": {"type": "message"},
        "actions": [{"type": "button", "action_id": "link_connect", "block_id": "b", "value": ""}],
    }
    response = await linking.bot.interact(payload)
    assert response.status_code == 200


async def test_a_revoked_grant_breaks_the_link_and_tells_the_user(
    linking: Linking, fake_slack: FakeSlack
) -> None:
    await linking.consent(await linking.connect_url(), "alice@example.com")
    linking.sandbox.revoke_grants("alice@example.com")
    linking.clock.advance(hours=2)
    with pytest.raises(LinkBroken):
        await linking.bot.container.vault.access_token_for("U0ALICE")
    # Retried once with the re-read grant, then given up: never a loop.
    assert [c.status for c in linking.sandbox.calls_to("token")][-2:] == [403, 403]
    assert "stopped working" in fake_slack.dm_messages("U0ALICE")[-1].text
    assert (await linking.audit_actions())[-1] == "link.broken"
    grant = await linking.grant()
    assert grant is not None and grant.broken and grant.refresh_token == ""
    status = await linking.run("status")
    assert "broken since" in (status.text or "")
    connect = await linking.run("connect")
    assert "stopped working; connecting again repairs it" in str(connect.blocks)


async def test_disconnect_removes_only_your_own_link(
    linking: Linking, fake_slack: FakeSlack
) -> None:
    await linking.consent(await linking.connect_url(), "alice@example.com")
    someone = await linking.bot.command("disconnect U0ALICE", user_id="U0BOB")
    assert "takes no arguments" in someone.json()["text"]
    assert await linking.grant() is not None
    answer = await linking.run("disconnect")
    assert "Connected apps" in (answer.text or "") and "Alice Anders" in (answer.text or "")
    assert await linking.grant() is None
    assert (await linking.audit_actions())[-1] == "link.disconnected"
    again = await linking.run("disconnect")
    assert "nothing to disconnect" in (again.text or "")
    status = await linking.run("status")
    assert "not linked" in (status.text or "")


async def test_connect_names_nobody(linking: Linking) -> None:
    answer = await linking.bot.command("connect <@U0BOB>", user_id="U0ALICE")
    assert "takes no arguments" in answer.json()["text"]


# --- each way a link attempt fails: a clear page, and nothing stored -----------------------


async def assert_nothing_stored(linking: Linking, user: str = "U0ALICE") -> None:
    assert await linking.grant(user) is None
    assert "link.connected" not in await linking.audit_actions()


async def test_unknown_state(linking: Linking) -> None:
    url = f"{linking.redirect_uri}?code=abc123&state={'x' * 43}"
    result = await linking.browser.get(url)
    assert_result(result, linking, "state_invalid", 400)
    assert "older than 10 minutes" in result.text
    assert linking.sandbox.calls_to("token") == [], "an unknown state never reaches Atlassian"


async def test_expired_state(linking: Linking) -> None:
    callback = await linking.callback_url()
    # Let Redis expire the state, as it would after its 10 minutes.
    redis: RedisClient = linking.bot.container.redis
    [key] = [k async for k in redis.scan_iter(match=b"*oauth:state:*")]
    await redis.pexpire(key, 1)
    await asyncio.sleep(0.05)
    result = await linking.browser.get(callback)
    assert_result(result, linking, "state_invalid", 400)
    await assert_nothing_stored(linking)


async def test_reused_state(linking: Linking) -> None:
    callback = await linking.callback_url()
    first = await linking.browser.get(callback)
    assert_result(first, linking, "linked", 200)
    grant = await linking.grant()
    again = await linking.browser.get(callback)
    assert_result(again, linking, "state_invalid", 400)
    assert await linking.grant() == grant, "the second use changed nothing"
    assert len(linking.sandbox.calls_to("token")) == 1


async def test_denied_consent(linking: Linking) -> None:
    result = await linking.consent(await linking.connect_url(), "alice@example.com", "deny")
    assert_result(result, linking, "denied", 403)
    assert "You chose not to allow access" in result.text
    await assert_nothing_stored(linking)
    assert (await linking.audit_actions()) == ["link.failed"]


async def test_wrong_site(linking: Linking) -> None:
    linking.sandbox.set_user_sites("alice@example.com", [OTHER_SITE_URL])
    result = await linking.consent(await linking.connect_url(), "alice@example.com")
    assert_result(result, linking, "wrong_site", 403)
    assert f"does not include {SITE_URL}" in result.text
    await assert_nothing_stored(linking)


async def test_email_mismatch_someone_elses_account(linking: Linking) -> None:
    # Alice's connect button, finished by whoever had it with Bob's Atlassian account.
    result = await linking.consent(await linking.connect_url("U0ALICE"), "bob@example.com")
    assert_result(result, linking, "email_mismatch", 403)
    assert "bob@example.com" not in result.text
    await assert_nothing_stored(linking)
    # Bob himself may link it: emails compare without case.
    mine = await linking.consent(await linking.connect_url("U0BOB"), "bob@example.com")
    assert_result(mine, linking, "linked", 200)
    grant = await linking.grant("U0BOB")
    assert grant is not None and grant.account_id == BOB


async def test_token_endpoint_down(linking: Linking) -> None:
    linking.sandbox.set_token_endpoint_down(True)
    result = await linking.consent(await linking.connect_url(), "alice@example.com")
    assert_result(result, linking, "unavailable", 503)
    assert "did not answer properly" in result.text
    await assert_nothing_stored(linking)


async def test_an_account_links_one_slack_user(
    fake_slack: FakeSlack, redis: Redis, redis_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user("U0ALICE", email="alice@example.com")
    fake_slack.add_user("U0ALICE2", email="alice@example.com")
    env = bot_environment(fake_slack.api_url, redis_url, REQUIRE_EMAIL_MATCH="false")
    async with (
        running_bot(env, clock=clock) as bot,
        httpx.AsyncClient(follow_redirects=True, timeout=10) as browser,
    ):
        linking = Linking(bot, fake_slack, clock, browser)
        await linking.consent(await linking.connect_url("U0ALICE"), "alice@example.com")
        other = await linking.consent(await linking.connect_url("U0ALICE2"), "alice@example.com")
        assert_result(other, linking, "account_taken", 409)
        assert await linking.grant("U0ALICE2") is None


# --- bad input at the callback --------------------------------------------------------------


async def get_callback(linking: Linking, query: str | dict[str, str]) -> httpx.Response:
    text = query if isinstance(query, str) else urlencode(query)
    return await linking.browser.get(
        f"{linking.redirect_uri}?{text}" if text else linking.redirect_uri
    )


async def test_bad_input_gives_a_clear_page_and_stores_nothing(linking: Linking) -> None:
    state = parse_qs(urlsplit(await linking.connect_url()).query)["state"][0]
    cases: list[tuple[str | dict[str, str], str, int]] = [
        ("", "bad_request", 400),
        ({"code": "abc"}, "bad_request", 400),
        ({"state": state}, "bad_request", 400),
        ({"state": state, "code": "abc", "error": "access_denied"}, "bad_request", 400),
        (f"state={state}&state={state}&code=abc", "bad_request", 400),
        ({"state": "s" * 5000, "code": "abc"}, "bad_request", 400),
        ({"state": state, "code": "c" * 5000}, "bad_request", 400),
        ({"state": state, "code": "abc", "pad": "p" * 9000}, "bad_request", 400),
        ({"state": state, "code": "<script>alert(1)</script>"}, "bad_request", 400),
        ({"state": state, "error": "<b>nope</b>"}, "bad_request", 400),
        ({"state": "<script>alert(1)</script>", "code": "abc"}, "state_invalid", 400),
        ({"result": "<script>alert(1)</script>"}, "unknown", 404),
    ]
    for query, reason, status in cases:
        response = await get_callback(linking, query)
        assert response.status_code == status, (query, response.text)
        assert "<script>" not in response.text and "<b>" not in response.text
        assert "Traceback" not in response.text
        if reason in ("bad_request", "state_invalid") and query:
            assert response.url.params.get("result") == reason, query
    # None of those used the state up: it still links, once.
    await assert_nothing_stored(linking)
    assert linking.sandbox.calls_to("token") == []


async def test_html_in_error_description_is_never_echoed(linking: Linking) -> None:
    state = parse_qs(urlsplit(await linking.connect_url()).query)["state"][0]
    response = await get_callback(
        linking,
        {
            "state": state,
            "error": "access_denied",
            "error_description": '<img src=x onerror="alert(1)">',
        },
    )
    assert_result(response, linking, "denied", 403)
    assert "<img" not in response.text and "onerror" not in response.text
    await assert_nothing_stored(linking)


@asynccontextmanager
async def stub_token_endpoint(answer: Any, status: int = 200) -> AsyncIterator[str]:
    """A token endpoint that always answers `answer` (JSON, or raw text when a str)."""

    async def token(request: Request) -> Response:
        if isinstance(answer, str):
            return Response(answer, status_code=status, media_type="text/html")
        return JSONResponse(answer, status_code=status)

    port = free_port()
    app = Starlette(routes=[Route("/oauth/token", token, methods=["POST"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why it did not start
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"access_token": "only-an-access-token", "token_type": "Bearer"}, 200),
        ({"refresh_token": "r", "expires_in": 3600, "scope": "read:me offline_access"}, 200),
        ({"access_token": "a", "refresh_token": "r", "expires_in": "soon"}, 200),
        ({"access_token": "a", "expires_in": 3600, "scope": "read:me offline_access"}, 200),
        ("<html><body>Gateway error</body></html>", 200),
        ("<html><body>Bad gateway</body></html>", 502),
    ],
)
async def test_unusable_token_answers(
    fake_slack: FakeSlack, redis: Redis, redis_url: str, clock: FakeClock, answer: Any, status: int
) -> None:
    fake_slack.add_user("U0ALICE", email="alice@example.com")
    async with stub_token_endpoint(answer, status) as auth_url:
        env = bot_environment(fake_slack.api_url, redis_url, ATLASSIAN_AUTH_URL=auth_url)
        async with (
            running_bot(env, clock=clock) as bot,
            httpx.AsyncClient(follow_redirects=True, timeout=10) as browser,
        ):
            linking = Linking(bot, fake_slack, clock, browser)
            url = await linking.connect_url()
            assert url.startswith(f"{auth_url}/authorize?"), "an explicit ATLASSIAN_AUTH_URL wins"
            state = parse_qs(urlsplit(url).query)["state"][0]
            result = await get_callback(linking, {"state": state, "code": "a-code"})
            assert_result(result, linking, "unavailable", 503)
            assert "Gateway" not in result.text and "only-an-access-token" not in result.text
            await assert_nothing_stored(linking)


async def test_missing_essential_scope(linking: Linking) -> None:
    url = await linking.connect_url()
    narrowed = re.sub(r"scope=[^&]*", "scope=read%3Aforge-app%3Aconfluence%20read%3Ame", url)
    result = await linking.consent(narrowed, "alice@example.com")
    assert_result(result, linking, "missing_scope", 403)
    await assert_nothing_stored(linking)


# --- what the store and the logs never hold ----------------------------------------------


async def dump(redis: RedisClient) -> bytes:
    """Every key and every value, as `redis-cli --scan` plus a read of each would show."""
    client: Any = redis  # redis-py's stubs type replies loosely; these are all bytes
    out: list[bytes] = []
    async for key in client.scan_iter():
        out.append(key)
        kind = (await client.type(key)).decode()
        if kind == "string":
            out.append(await client.get(key) or b"")
        elif kind == "hash":
            for field, value in (await client.hgetall(key)).items():
                out += [field, value]
        elif kind == "zset":
            out += [m for m, _ in await client.zrange(key, 0, -1, withscores=True)]
        elif kind == "set":
            out += list(await client.smembers(key))
        elif kind == "list":
            out += await client.lrange(key, 0, -1)
        elif kind == "stream":
            for _, fields in await client.xrange(key):
                for field, value in fields.items():
                    out += [field, value]
        else:
            raise AssertionError(f"unexpected key type {kind}")
    return b"\n".join(out)


async def test_no_token_or_secret_in_the_store_or_the_logs(
    linking: Linking, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await linking.consent(await linking.connect_url(), "alice@example.com")
    first = await linking.grant()
    linking.clock.advance(hours=1)
    await linking.bot.container.vault.access_token_for("U0ALICE")
    second = await linking.grant()
    assert first is not None and second is not None
    assert second.access_token != first.access_token

    stored = await dump(linking.bot.container.redis)
    assert linking.bot.container.keys.link_grant("U0ALICE").encode() in stored
    assert b"alice@example.com" not in stored, "the grant is sealed whole"
    secrets = [
        first.access_token,
        first.refresh_token,
        second.access_token,
        second.refresh_token,
        CLIENT_SECRET,
    ]
    for secret in secrets:
        assert secret.encode() not in stored
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__} {record.exc_text or ''}"
        for record in caplog.records
    )
    assert "link refreshed" in logged and len(caplog.records) > 50, "the logs were captured"
    for secret in secrets:
        assert secret not in logged
