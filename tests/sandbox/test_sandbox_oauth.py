"""The sandbox's Atlassian 3LO: consent, code exchange, rotating refresh tokens, resources, /me."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from emulators.approvalflow import SandboxState, create_sandbox_app
from emulators.approvalflow.models import Page
from emulators.approvalflow.seed import (
    ALICE,
    ENG_SPACE,
    OTHER_SITE_ID,
    OTHER_SITE_URL,
    SITE_ID,
    SITE_URL,
)
from emulators.approvalflow.state import SAVE_DELAY_PER_MB, SAVE_DELAY_SECONDS
from testkit.browser import consent_form
from testkit.redis_server import free_port
from tests.fakes.clock import FakeClock
from tests.sandbox.conftest import (
    API,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    Sandbox,
    app_server,
    serving,
)

INVALID_GRANT = {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
INVALID_CODE = {"error": "invalid_request", "error_description": "authorization_code is invalid"}


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "audience": "api.atlassian.com",
        "client_id": CLIENT_ID,
        "scope": "read:me offline_access",
        "redirect_uri": REDIRECT_URI,
        "state": "st-9",
        "response_type": "code",
        "prompt": "consent",
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_authorize_code_token_resources_me(sandbox: Sandbox) -> None:
    page = await sandbox.http.get("authorize", params=authorize_params())
    assert page.status_code == 200
    assert "read:me" in page.text and "offline_access" in page.text
    assert "alice@example.com" in page.text and "frank@example.com" in page.text
    assert ">Allow</button>" in page.text and ">Deny</button>" in page.text

    tokens = await sandbox.link("alice@example.com", "read:me offline_access")
    assert tokens["expires_in"] == 3600
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "read:me offline_access"
    assert tokens["refresh_token"] and tokens["access_token"] != tokens["refresh_token"]

    resources = await sandbox.http.get(
        "oauth/token/accessible-resources", headers=auth(tokens["access_token"])
    )
    assert resources.status_code == 200
    [site] = resources.json()
    assert site["id"] == SITE_ID and site["url"] == SITE_URL == "https://sandbox.atlassian.net"
    assert set(site) == {"id", "url", "name", "scopes", "avatarUrl"}
    assert site["scopes"] == ["read:me"]

    me = await sandbox.http.get("me", headers=auth(tokens["access_token"]))
    assert me.status_code == 200
    profile = me.json()
    assert profile["account_id"] == ALICE
    assert profile["email"] == "alice@example.com"
    assert profile["name"] == "Alice Anders"
    assert profile["account_status"] == "active" and profile["account_type"] == "atlassian"
    assert {"picture", "nickname", "zoneinfo", "locale", "extended_profile"} <= set(profile)


async def test_token_endpoint_takes_json_and_basic_auth(sandbox: Sandbox) -> None:
    code = await sandbox.consent()
    answer = await sandbox.http.post(
        "oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": code,
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert answer.status_code == 200
    basic = await sandbox.http.post(
        "oauth/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": answer.json()["refresh_token"]},
    )
    assert basic.status_code == 200


async def test_deny_redirects_with_access_denied(sandbox: Sandbox) -> None:
    page = await sandbox.http.get("authorize", params=authorize_params())
    action, fields = consent_form(page.text)
    answer = await sandbox.http.post(
        page.url.join(action), data={**fields, "account_id": ALICE, "decision": "deny"}
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["access_denied"]
    assert query["error_description"] and query["state"] == ["st-9"]
    assert "code" not in query


async def test_bad_authorize_requests(sandbox: Sandbox) -> None:
    for missing in ("redirect_uri", "response_type", "client_id"):
        page = await sandbox.http.get("authorize", params=authorize_params(**{missing: ""}))
        assert page.status_code == 400
        assert missing in page.text and "<form" not in page.text
    wrong_type = await sandbox.http.get("authorize", params=authorize_params(response_type="token"))
    assert wrong_type.status_code == 302
    assert "error=unsupported_response_type" in wrong_type.headers["location"]
    no_scope = await sandbox.http.get("authorize", params=authorize_params(scope=""))
    assert "error=invalid_scope" in no_scope.headers["location"]


async def test_authorize_page_escapes_what_it_renders(sandbox: Sandbox) -> None:
    page = await sandbox.http.get(
        "authorize",
        params=authorize_params(scope='read:me <script>alert("x")</script>', state='"><img src=x>'),
    )
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;" in page.text


async def test_code_is_single_use_short_lived_and_bound(sandbox: Sandbox) -> None:
    code = await sandbox.consent()
    assert (await sandbox.exchange(code)).status_code == 200
    reused = await sandbox.exchange(code)
    assert reused.status_code == 400 and reused.json() == INVALID_CODE

    late = await sandbox.consent()
    sandbox.clock.advance(minutes=10, seconds=1)
    expired = await sandbox.exchange(late)
    assert expired.status_code == 400 and expired.json() == INVALID_CODE

    other = await sandbox.consent()
    wrong_uri = await sandbox.http.post(
        "oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": other,
            "redirect_uri": REDIRECT_URI + "/elsewhere",
        },
    )
    assert wrong_uri.status_code == 400 and wrong_uri.json() == INVALID_CODE


async def test_client_secret_is_required_and_checked_when_configured(sandbox: Sandbox) -> None:
    code = await sandbox.consent()
    no_secret = await sandbox.http.post(
        "oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "code": code,
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert no_secret.status_code == 401
    assert no_secret.json() == {"error": "access_denied", "error_description": "Unauthorized"}

    sandbox.state.clients = {CLIENT_ID: "the-right-secret"}
    wrong = await sandbox.exchange(await sandbox.consent())
    assert wrong.status_code == 401 and wrong.json()["error"] == "access_denied"
    unknown = await sandbox.http.get("authorize", params=authorize_params(client_id="stranger"))
    assert unknown.status_code == 400


async def test_no_refresh_token_without_offline_access(sandbox: Sandbox) -> None:
    tokens = await sandbox.link(scope="read:me")
    assert "refresh_token" not in tokens


async def test_refresh_rotates_and_old_access_token_dies_after_the_window(
    sandbox: Sandbox,
) -> None:
    first = await sandbox.link()
    answer = await sandbox.refresh(first["refresh_token"])
    assert answer.status_code == 200
    second = answer.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 3600 and second["scope"] == first["scope"]
    [family] = sandbox.state.families("alice@example.com")
    assert family.refresh_count == 1 and family.revoked_at is None

    # The companion access token of an exchanged refresh token lives 10 more minutes.
    assert (await sandbox.http.get("me", headers=auth(first["access_token"]))).status_code == 200
    sandbox.clock.advance(minutes=10, seconds=1)
    old = await sandbox.http.get("me", headers=auth(first["access_token"]))
    assert old.status_code == 401 and old.json() == {"code": 401, "message": "Unauthorized"}
    assert (await sandbox.http.get("me", headers=auth(second["access_token"]))).status_code == 200


async def test_reuse_within_the_window_is_tolerated(sandbox: Sandbox) -> None:
    first = await sandbox.link()
    assert (await sandbox.refresh(first["refresh_token"])).status_code == 200
    sandbox.clock.advance(minutes=9)
    again = await sandbox.refresh(first["refresh_token"])
    assert again.status_code == 200
    assert (await sandbox.refresh(again.json()["refresh_token"])).status_code == 200
    assert sandbox.state.refresh_count("alice@example.com") == 3
    assert all(f.revoked_at is None for f in sandbox.state.families())


async def test_reuse_after_the_window_revokes_the_family(sandbox: Sandbox) -> None:
    first = await sandbox.link()
    second = (await sandbox.refresh(first["refresh_token"])).json()
    moved = await sandbox.http.post("_sandbox/clock", json={"advance_seconds": 601})
    assert moved.status_code == 200

    reused = await sandbox.refresh(first["refresh_token"])
    assert reused.status_code == 403 and reused.json() == INVALID_GRANT
    # Every token of the family is dead now, including the newest pair.
    newest = await sandbox.refresh(second["refresh_token"])
    assert newest.status_code == 403 and newest.json() == INVALID_GRANT
    assert (await sandbox.http.get("me", headers=auth(second["access_token"]))).status_code == 401
    families = (await sandbox.http.get("_sandbox/families", params={"who": ALICE})).json()
    assert families[0]["revoked_at"] is not None and families[0]["refresh_count"] == 1


async def test_older_generation_reuse_revokes_even_inside_the_window(sandbox: Sandbox) -> None:
    first = await sandbox.link()
    second = (await sandbox.refresh(first["refresh_token"])).json()
    third = await sandbox.refresh(second["refresh_token"])
    assert third.status_code == 200
    reused = await sandbox.refresh(first["refresh_token"])
    assert reused.status_code == 403 and reused.json() == INVALID_GRANT
    assert (await sandbox.refresh(third.json()["refresh_token"])).status_code == 403
    [family] = sandbox.state.families()
    assert family.revoked_at is not None


async def test_unknown_refresh_token_and_grant_type(sandbox: Sandbox) -> None:
    unknown = await sandbox.refresh("not-a-token")
    assert unknown.status_code == 403 and unknown.json() == INVALID_GRANT
    odd = await sandbox.http.post(
        "oauth/token",
        data={"grant_type": "password", "client_id": CLIENT_ID, "client_secret": "x"},
    )
    assert odd.status_code == 400 and odd.json()["error"] == "unsupported_grant_type"


async def test_access_token_expires_after_an_hour(sandbox: Sandbox) -> None:
    token = await sandbox.bearer(scope="read:me")
    sandbox.clock.advance(minutes=59)
    assert (await sandbox.http.get("me", headers=auth(token))).status_code == 200
    sandbox.clock.advance(minutes=1)
    assert (await sandbox.http.get("me", headers=auth(token))).status_code == 401
    assert (await sandbox.http.get("me")).status_code == 401


async def test_me_needs_read_me_and_can_hide_the_email(sandbox: Sandbox) -> None:
    token = await sandbox.bearer(scope="read:forge-app:confluence")
    refused = await sandbox.http.get("me", headers=auth(token))
    assert refused.status_code == 401
    assert refused.json() == {"code": 401, "message": "Unauthorized; scope does not match"}

    sandbox.state.add_user("Hidden Hal", "hal@example.com", email_visible=False)
    profile = (
        await sandbox.http.get("me", headers=auth(await sandbox.bearer("hal@example.com")))
    ).json()
    assert "email" not in profile and profile["name"] == "Hidden Hal"


async def test_a_user_granting_only_the_other_site(sandbox: Sandbox) -> None:
    answer = await sandbox.http.post(
        f"_sandbox/users/{ALICE}/sites", json={"sites": [OTHER_SITE_URL]}
    )
    assert answer.status_code == 200 and answer.json()["site_ids"] == [OTHER_SITE_ID]
    token = await sandbox.bearer()
    resources = (
        await sandbox.http.get("oauth/token/accessible-resources", headers=auth(token))
    ).json()
    assert [site["url"] for site in resources] == [OTHER_SITE_URL]
    listed = await sandbox.http.get(
        f"{API}/changeSets", params={"spaceId": "98301"}, headers=auth(token)
    )
    assert listed.status_code == 401


async def test_added_user_can_consent(sandbox: Sandbox) -> None:
    added = await sandbox.http.post(
        "_sandbox/users", json={"name": "Grace Green", "email": "grace@example.com"}
    )
    assert added.status_code == 200
    account_id = added.json()["account_id"]
    profile = (
        await sandbox.http.get("me", headers=auth(await sandbox.bearer("grace@example.com")))
    ).json()
    assert profile["account_id"] == account_id and profile["email"] == "grace@example.com"
    duplicate = await sandbox.http.post(
        "_sandbox/users", json={"name": "Again", "email": "grace@example.com"}
    )
    assert duplicate.status_code == 400


async def test_token_endpoint_down_and_faults(sandbox: Sandbox) -> None:
    tokens = await sandbox.link()
    down = await sandbox.http.post("_sandbox/token-endpoint", json={"down": True})
    assert down.status_code == 200
    for _ in range(2):
        answer = await sandbox.refresh(tokens["refresh_token"])
        assert answer.status_code == 503
    await sandbox.http.post("_sandbox/token-endpoint", json={"down": False})
    sandbox.state.inject_fault("token", status=429, retry_after=7)
    limited = await sandbox.refresh(tokens["refresh_token"])
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert (await sandbox.refresh(tokens["refresh_token"])).status_code == 200
    assert sandbox.state.refresh_count() == 1


async def test_token_calls_are_recorded_without_the_secret(sandbox: Sandbox) -> None:
    await sandbox.link("bob@example.com")
    [call] = sandbox.state.calls_to("token")
    assert call.account_id == sandbox.state.user("bob@example.com").account_id
    assert call.client_id == CLIENT_ID and call.status == 200
    assert call.body["client_secret"] == "***" and call.body["grant_type"] == "authorization_code"
    authorize = sandbox.state.calls_to("authorize")
    assert [c.method for c in authorize] == ["GET", "POST"]


async def test_changes_in_a_loop_are_saved_together_shortly_after(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "sandbox.json"
    state = SandboxState(clock=clock, persist_path=path)
    seeded = path.read_text(encoding="utf-8")  # a fresh seed is saved at once
    for i in range(20):
        state.add_user(f"Burst {i}", f"burst{i}@example.com")
    assert path.read_text(encoding="utf-8") == seeded, "not one save per change"

    assert SAVE_DELAY_SECONDS <= state.save_delay() < SAVE_DELAY_SECONDS + 0.1  # a small world
    await asyncio.sleep(state.save_delay() + 0.3)
    saved = SandboxState(clock=clock, persist_path=path)
    assert saved.user("burst19@example.com").name == "Burst 19"

    state.add_user("Last One", "last@example.com")
    state.flush()
    assert SandboxState(clock=clock, persist_path=path).user("last@example.com")


async def test_a_large_world_is_saved_less_often(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sandbox.json"
    state = SandboxState(clock=clock, persist_path=path)
    small = state.save_delay()
    for i in range(10_000):
        page = Page(id=f"big{i}", space_id=ENG_SPACE, title=f"Page {i} of a large space")
        state.world.pages[page.id] = page
    state.add_user("Big Space", "big@example.com")  # in a loop: saved later, or on flush
    state.flush()
    megabytes = path.stat().st_size / 1_000_000
    assert megabytes > 1
    assert state.save_delay() == pytest.approx(SAVE_DELAY_SECONDS + SAVE_DELAY_PER_MB * megabytes)
    assert SandboxState(clock=clock, persist_path=path).save_delay() == state.save_delay()
    assert state.save_delay() > small + SAVE_DELAY_PER_MB


async def test_persisted_accounts_survive_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sandbox.json"
    first = SandboxState(clock=clock, persist_path=path)
    first.add_user("Ivy Irons", "ivy@example.com")
    code = first.authorize(
        client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, who="ivy@example.com", scopes=["read:me"]
    )
    _, tokens = first.exchange_code(
        client_id=CLIENT_ID, client_secret="s", code=code, redirect_uri=REDIRECT_URI
    )
    first.edit_page("65601")
    first.flush()  # as the servers do on the way out

    second = SandboxState(clock=clock, persist_path=path)
    assert second.user("ivy@example.com").name == "Ivy Irons"
    family = second.token_family(tokens["access_token"])
    assert family is not None and family.account_id == second.user("ivy@example.com").account_id
    assert second.page("65601").version == first.page("65601").version

    path.write_text("{not json", encoding="utf-8")
    assert SandboxState(clock=clock, persist_path=path).user("alice@example.com")


async def test_works_mounted_under_a_prefix(clock: FakeClock) -> None:
    state = SandboxState(clock=clock)
    port = free_port()
    outer = Starlette(routes=[Mount("/sandbox", app=create_sandbox_app(state))])
    async with (
        serving(app_server(outer, port)),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/sandbox/", timeout=5) as http,
    ):
        sandbox = Sandbox(state=state, clock=clock, http=http)
        page = await http.get("authorize", params=authorize_params())
        action, _ = consent_form(page.text)
        assert action == "/sandbox/authorize"
        token = await sandbox.bearer()
        me = await http.get("me", headers=auth(token))
        assert me.json()["account_id"] == ALICE
        listed = await http.get(
            f"{API}/changeSets", params={"spaceId": "98301"}, headers=auth(token)
        )
        assert listed.status_code == 200 and listed.json()["success"] is True
        overview = await http.get("_sandbox/")
        assert overview.status_code == 200 and overview.json()["sites"][0]["url"] == SITE_URL
        assert state.calls_to("list_change_sets")[0].path == f"/sandbox{API}/changeSets"
