"""The fake Slack Web API, driven by the real slack_sdk AsyncWebClient over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, quote

import aiohttp
import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from emulators.slack import FakeSlack, FakeUsergroup
from emulators.slack.signing import interactive_body, percent_encoded
from tests.fakes.clock import FakeClock

BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*PR-184*: 15 pages"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "AR-7K3Q",
            }
        ],
    },
]


def modal(title: str = "Approve PR-184", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "sign",
        "title": {"type": "plain_text", "text": title},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Loading..."}}],
        **extra,
    }


def home(text: str = "Your tokens") -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


@pytest.fixture
def client(fake_slack: FakeSlack) -> AsyncWebClient:
    # team_id: Bolt's per-request clients add it to every call; the fake must accept it.
    return AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url, team_id="T0FAKETEAM")


async def api_error(awaitable: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await awaitable
    return caught.value


# ------------------------------------------------------------------ auth and wire format


async def test_auth_test_reports_bot_identity_and_scopes(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    response = await client.auth_test()
    assert response["user_id"] == fake_slack.bot_user_id
    assert response["team_id"] == fake_slack.team_id
    assert response["bot_id"] == fake_slack.bot_id
    assert "chat:write" in response.headers["x-oauth-scopes"].split(",")
    (call,) = fake_slack.calls_to("auth.test")
    assert call.args["team_id"] == "T0FAKETEAM"
    assert call.headers["authorization"] == "Bearer xoxb-test"
    assert call.ok and call.status == 200


async def test_bad_tokens_get_invalid_auth(fake_slack: FakeSlack) -> None:
    user_token = AsyncWebClient(token="xoxp-someone", base_url=fake_slack.api_url)
    assert (await api_error(user_token.auth_test())).response["error"] == "invalid_auth"
    no_token = AsyncWebClient(base_url=fake_slack.api_url)
    assert (await api_error(no_token.auth_test())).response["error"] == "not_authed"
    fake_slack.revoke_token("xoxb-old")
    old = AsyncWebClient(token="xoxb-old", base_url=fake_slack.api_url)
    assert (await api_error(old.auth_test())).response["error"] == "token_revoked"


async def test_only_configured_tokens_when_given(clock: FakeClock) -> None:
    async with FakeSlack(clock=clock, tokens=["xoxb-right"]) as slack:
        right = AsyncWebClient(token="xoxb-right", base_url=slack.api_url)
        wrong = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url)
        assert (await right.auth_test())["ok"]
        assert (await api_error(wrong.auth_test())).response["error"] == "invalid_auth"


async def test_arguments_merge_from_query_form_and_json(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    channel = "C0APPROVALS"
    await client.api_call("chat.postMessage", params={"channel": channel, "text": "from query"})
    await client.api_call(
        "chat.postMessage",
        data={"channel": channel, "text": "from form", "blocks": json.dumps(BLOCKS)},
    )
    await client.api_call(
        "chat.postMessage",
        params={"channel": channel},
        json={"text": "from json", "blocks": BLOCKS},
    )
    texts = [m.text for m in fake_slack.messages(channel)]
    assert texts == ["from query", "from form", "from json"]
    # A JSON-encoded form field is decoded, both in state and in the recorded call.
    assert fake_slack.messages(channel)[1].blocks == BLOCKS
    assert fake_slack.calls_to("chat.postMessage")[1].args["blocks"] == BLOCKS
    assert fake_slack.calls_to("chat.postMessage")[2].args["channel"] == channel


async def test_unknown_methods_fail_unless_stubbed(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    error = await api_error(client.api_call("reminders.list", params={"user": "U1"}))
    assert error.response["error"] == "unknown_method"
    fake_slack.stub("reminders.list", lambda args: {"reminders": [args["user"]]})
    response = await client.api_call("reminders.list", params={"user": "U1"})
    assert response["reminders"] == ["U1"]


async def test_usergroup_members_and_an_unknown_group(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    fake_slack.usergroups["S1"] = FakeUsergroup("S1", "reviewers", "Reviewers", ["U1", "U2"])
    response = await client.usergroups_users_list(usergroup="S1")
    assert response["users"] == ["U1", "U2"]
    error = await api_error(client.usergroups_users_list(usergroup="S9"))
    assert error.response["error"] == "no_such_subteam"


# ------------------------------------------------------------------ chat.*


async def test_post_update_delete_and_threads(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="Sign off PR-184", blocks=BLOCKS)
    ts = posted["ts"]
    assert posted["channel"] == "C1"
    assert posted["message"]["blocks"] == BLOCKS

    reply = await client.chat_postMessage(channel="C1", text="Signed by Ana", thread_ts=ts)
    assert fake_slack.replies("C1", ts)[0].ts == reply["ts"]

    await client.chat_update(channel="C1", ts=ts, text="Submitted", blocks=BLOCKS[:1])
    message = fake_slack.message("C1", ts)
    assert message is not None
    assert (message.text, message.blocks, message.edited_ts is not None) == (
        "Submitted",
        BLOCKS[:1],
        True,
    )

    await client.chat_delete(channel="C1", ts=reply["ts"])
    assert [m.ts for m in fake_slack.messages("C1")] == [ts]
    assert len(fake_slack.messages("C1", include_deleted=True)) == 2
    assert fake_slack.violations == []


async def test_update_and_delete_errors(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    for call in (
        client.chat_update(channel="C1", ts="1.000001", text="x"),
        client.chat_delete(channel="C1", ts="1.000001"),
    ):
        assert (await api_error(call)).response["error"] == "message_not_found"
    human_ts = fake_slack.add_user_message("C1", "I wrote this", user="U1")
    error = await api_error(client.chat_update(channel="C1", ts=human_ts, text="x"))
    assert error.response["error"] == "cant_update_message"
    error = await api_error(client.chat_delete(channel="C1", ts=human_ts))
    assert error.response["error"] == "cant_delete_message"
    bot_ts = (await client.chat_postMessage(channel="C1", text="x"))["ts"]
    await client.chat_delete(channel="C1", ts=bot_ts)
    error = await api_error(client.chat_delete(channel="C1", ts=bot_ts))
    assert error.response["error"] == "message_not_found"


async def test_post_ephemeral_is_kept_apart_and_cannot_be_updated(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    response = await client.chat_postEphemeral(channel="C1", user="U1", text="Only you")
    (ephemeral,) = fake_slack.ephemerals(channel="C1", user="U1")
    assert (ephemeral.text, ephemeral.ts) == ("Only you", response["message_ts"])
    assert fake_slack.messages("C1") == []
    error = await api_error(client.chat_update(channel="C1", ts=response["message_ts"], text="x"))
    assert error.response["error"] == "message_not_found"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_invalid_blocks_are_rejected_and_recorded(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    too_many = [{"type": "divider"}] * 51
    error = await api_error(client.chat_postMessage(channel="C1", text="x", blocks=too_many))
    assert error.response["error"] == "invalid_blocks"
    assert any("51 blocks" in m for m in error.response["response_metadata"]["messages"])
    error = await api_error(client.chat_postMessage(channel="C1", blocks=BLOCKS))
    assert error.response["error"] == "invalid_blocks"
    error = await api_error(client.chat_postMessage(channel="C1"))
    assert error.response["error"] == "no_text"
    assert len(fake_slack.violations) == 3
    assert fake_slack.violations[0].startswith("chat.postMessage: blocks has 51 blocks")
    assert "fallback" in fake_slack.violations[1]
    assert fake_slack.messages("C1") == []


# ------------------------------------------------------------------ conversations.open, users.info


async def test_conversations_open_gives_a_stable_dm(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.conversations_open(users="U1")
    again = await client.conversations_open(users=["U1"])
    other = await client.conversations_open(users="U2")
    dm = first["channel"]["id"]
    assert dm.startswith("D")
    assert again["channel"]["id"] == dm and again["already_open"]
    assert other["channel"]["id"] != dm
    await client.chat_postMessage(channel=dm, text="hello")
    await client.chat_postMessage(channel="U1", text="by user id")  # lands in the same DM
    assert [m.text for m in fake_slack.dm_messages("U1")] == ["hello", "by user id"]
    assert fake_slack.dm_messages("U3") == []


async def test_users_info(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.add_user(
        "U1", name="ana", real_name="Ana Lima", email="ana@acme.test", is_admin=True, tz="UTC"
    )
    user = (await client.users_info(user="U1"))["user"]
    assert (user["name"], user["real_name"], user["is_admin"], user["is_owner"]) == (
        "ana",
        "Ana Lima",
        True,
        False,
    )
    assert user["profile"]["email"] == "ana@acme.test"
    assert user["tz"] == "UTC"
    assert fake_slack.calls_to("users.info")[0].http_method == "GET"
    assert (await api_error(client.users_info(user="U404"))).response["error"] == "user_not_found"


async def test_users_info_hides_email_without_the_scope(clock: FakeClock) -> None:
    async with FakeSlack(clock=clock, scopes=["users:read"]) as slack:
        slack.add_user("U1", email="ana@acme.test", is_owner=True)
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        user = (await client.users_info(user="U1"))["user"]
        assert "email" not in user["profile"]
        assert user["is_owner"] and user["is_admin"]


# ------------------------------------------------------------------ views


async def test_views_open_push_update_with_hash(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    opened = (await client.views_open(trigger_id=fake_slack.new_trigger_id("U1"), view=modal()))[
        "view"
    ]
    view_id, first_hash = opened["id"], opened["hash"]
    assert fake_slack.views[view_id].user_id == "U1"

    updated = (await client.views_update(view_id=view_id, hash=first_hash, view=modal("Ready")))[
        "view"
    ]
    assert updated["id"] == view_id and updated["hash"] != first_hash
    assert fake_slack.views[view_id].title == "Ready"

    # A stale hash means someone else changed the view since we read it.
    error = await api_error(client.views_update(view_id=view_id, hash=first_hash, view=modal()))
    assert error.response["error"] == "hash_conflict"

    pushed = await client.views_push(trigger_id=fake_slack.new_trigger_id("U1"), view=modal())
    assert pushed["view"]["previous_view_id"] == view_id
    assert pushed["view"]["root_view_id"] == view_id
    await client.views_push(trigger_id=fake_slack.new_trigger_id("U1"), view=modal())
    assert len(fake_slack.view_stack("U1")) == 3
    error = await api_error(
        client.views_push(trigger_id=fake_slack.new_trigger_id("U1"), view=modal())
    )
    assert error.response["error"] == "push_limit_reached"

    fake_slack.close_view(view_id)
    assert fake_slack.view_stack("U1") == []
    error = await api_error(client.views_update(view_id=view_id, view=modal()))
    assert error.response["error"] == "not_found"


async def test_views_update_by_external_id(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.views_open(
        trigger_id=fake_slack.new_trigger_id(), view=modal(external_id="sign-AR-7K3Q")
    )
    response = await client.views_update(external_id="sign-AR-7K3Q", view=modal("Signed"))
    assert response["view"]["title"]["text"] == "Signed"
    error = await api_error(
        client.views_open(
            trigger_id=fake_slack.new_trigger_id(), view=modal(external_id="sign-AR-7K3Q")
        )
    )
    assert error.response["error"] == "duplicate_external_id"


async def test_trigger_ids_are_single_use_and_expire(
    fake_slack: FakeSlack, client: AsyncWebClient, clock: FakeClock
) -> None:
    trigger = fake_slack.new_trigger_id()
    await client.views_open(trigger_id=trigger, view=modal())
    error = await api_error(client.views_open(trigger_id=trigger, view=modal()))
    assert error.response["error"] == "exchanged_trigger_id"

    on_time, late = fake_slack.new_trigger_id(), fake_slack.new_trigger_id()
    clock.advance(seconds=3)
    await client.views_open(trigger_id=on_time, view=modal())  # 3 s is still inside the window
    clock.advance(seconds=0.5)
    error = await api_error(client.views_open(trigger_id=late, view=modal()))
    assert error.response["error"] == "expired_trigger_id"

    error = await api_error(client.views_open(trigger_id="1.2.made-up", view=modal()))
    assert error.response["error"] == "invalid_trigger_id"


async def test_invalid_view_is_rejected_without_spending_the_trigger(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    trigger = fake_slack.new_trigger_id()
    error = await api_error(client.views_open(trigger_id=trigger, view=modal("x" * 25)))
    assert error.response["error"] == "invalid_blocks"
    assert fake_slack.violations == [
        "views.open: view.title.text is 25 characters; the limit is 24"
    ]
    await client.views_open(trigger_id=trigger, view=modal())


async def test_views_publish_home(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    first = (await client.views_publish(user_id="U1", view=home()))["view"]
    second = (await client.views_publish(user_id="U1", view=home("Updated"), hash=first["hash"]))[
        "view"
    ]
    assert second["id"] == first["id"] and second["hash"] != first["hash"]
    home_view = fake_slack.home_view("U1")
    assert home_view is not None and home_view.blocks[0]["text"]["text"] == "Updated"
    assert len(home_view.versions) == 1
    error = await api_error(client.views_publish(user_id="U1", view=home(), hash=first["hash"]))
    assert error.response["error"] == "hash_conflict"
    error = await api_error(client.views_publish(user_id="U1", view={**home(), **modal()}))
    assert error.response["error"] == "invalid_blocks"
    bad_home = {**home(), "title": {"type": "plain_text", "text": "Home"}}
    error = await api_error(client.views_publish(user_id="U1", view=bad_home))
    assert error.response["error"] == "invalid_blocks"
    assert any("home view may not have title" in v for v in fake_slack.violations)


# ------------------------------------------------------------------ files


async def test_files_upload_v2_end_to_end(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    dm = (await client.conversations_open(users="U1"))["channel"]["id"]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    response = await client.files_upload_v2(
        channel=dm, content=png, filename="enrol-qr.png", title="Scan me", initial_comment="Scan"
    )
    file_id = response["file"]["id"]
    stored = fake_slack.files[file_id]
    assert stored.content == png
    assert (stored.title, stored.mimetype, stored.channels) == ("Scan me", "image/png", [dm])

    (shared,) = fake_slack.dm_messages("U1")
    assert shared.text == "Scan"
    assert shared.files[0]["id"] == file_id
    assert stored.shares == {dm: shared.ts}

    async with aiohttp.ClientSession() as http:
        auth = {"Authorization": "Bearer xoxb-test"}
        async with http.get(stored.url_private, headers=auth) as got:
            assert got.status == 200
            assert await got.read() == png
        async with http.get(stored.url_private) as anonymous:
            assert anonymous.status == 401

    info = (await client.files_info(file=file_id))["file"]
    assert info["size"] == len(png) and info["ims"] == [dm]

    await client.files_delete(file=file_id)
    assert stored.deleted
    assert (await api_error(client.files_info(file=file_id))).response["error"] == "file_deleted"
    assert (await api_error(client.files_delete(file="F404"))).response["error"] == "file_not_found"
    async with aiohttp.ClientSession() as http, http.get(stored.url_private, headers=auth) as gone:
        assert gone.status == 404
    assert [c.method for c in fake_slack.calls] == [
        "conversations.open",
        "files.getUploadURLExternal",
        "file_upload",
        "files.completeUploadExternal",
        "files.info",
        "files.delete",
        "files.info",
        "files.delete",
    ]


async def test_complete_upload_needs_uploaded_bytes(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    ticket = await client.files_getUploadURLExternal(filename="a.txt", length=3)
    assert ticket["upload_url"].startswith(fake_slack.base_url)
    error = await api_error(
        client.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "a"}])
    )
    assert error.response["error"] == "file_not_found"
    # Uploaded but shared nowhere: Slack keeps it private to the uploader.
    async with aiohttp.ClientSession() as http, http.post(ticket["upload_url"], data=b"abc") as r:
        assert (r.status, await r.text()) == (200, "OK - 3")
    done = await client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}])
    assert done["files"][0]["title"] == "a.txt"
    assert fake_slack.files[ticket["file_id"]].channels == []


async def test_failed_upload_step_raises(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.fail_next("file_upload", "storage down", status=500)
    with pytest.raises(SlackRequestError, match="status: 500"):
        await client.files_upload_v2(channel="C1", content=b"x", filename="x.txt")
    assert fake_slack.calls_to("files.completeUploadExternal") == []
    assert fake_slack.messages("C1") == []


# ------------------------------------------------------------------ faults


async def test_rate_limit_surfaces_as_429_with_retry_after(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    fake_slack.rate_limit_next("chat.postMessage", retry_after=7)
    error = await api_error(client.chat_postMessage(channel="C1", text="x"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 200]


async def test_injected_errors_and_statuses(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.fail_next("users.info", "fatal_error", times=2)
    fake_slack.add_user("U1")
    for _ in range(2):
        assert (await api_error(client.users_info(user="U1"))).response["error"] == "fatal_error"
    assert (await client.users_info(user="U1"))["ok"]

    fake_slack.fail_next("auth.test", "service_unavailable", status=503)
    error = await api_error(client.auth_test())
    assert error.response.status_code == 503
    assert error.response["error"] == "service_unavailable"


async def test_latency_is_per_method(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.set_latency("auth.test", 0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.auth_test()
    assert loop.time() - started >= 0.05
    # A latency far longer than the waits below: an answer within them was not delayed.
    fake_slack.set_latency("auth.test", 600)
    fake_slack.add_user("U1")
    assert (await asyncio.wait_for(client.users_info(user="U1"), 30))["ok"]
    fake_slack.clear_faults()
    assert (await asyncio.wait_for(client.auth_test(), 30))["ok"]


# ------------------------------------------------------------------ response_url


async def test_response_url_records_and_applies_posts(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="Pending", blocks=BLOCKS))["ts"]
    url = fake_slack.new_response_url(channel="C1", user="U1", message_ts=ts)
    webhook = AsyncWebhookClient(url)

    assert (await webhook.send(text="Only you see this")).status_code == 200
    assert fake_slack.ephemerals(user="U1")[0].text == "Only you see this"

    await webhook.send(text="Approved", blocks=BLOCKS[:1], replace_original=True)
    message = fake_slack.message("C1", ts)
    assert message is not None and (message.text, message.blocks) == ("Approved", BLOCKS[:1])

    await webhook.send_dict({"delete_original": True})
    assert fake_slack.messages("C1") == []

    kinds = [p.kind for p in fake_slack.response_posts]
    assert kinds == ["ephemeral", "replace_original", "delete_original"]
    assert [c.method for c in fake_slack.calls][-3:] == ["response_url"] * 3
    assert fake_slack.violations == []


async def test_response_url_validates_and_limits_uses(
    fake_slack: FakeSlack, clock: FakeClock
) -> None:
    webhook = AsyncWebhookClient(fake_slack.new_response_url(channel="C1"))
    rejected = await webhook.send(blocks=BLOCKS)  # no text fallback
    assert json.loads(rejected.body) == {"ok": False, "error": "invalid_blocks"}
    assert fake_slack.violations == [
        "response_url: text: a message with blocks needs a non-empty text fallback"
    ]
    for i in range(5):
        assert (await webhook.send(text=f"reply {i}")).status_code == 200
    used = await webhook.send(text="sixth")
    assert (used.status_code, json.loads(used.body)["error"]) == (404, "used_url")

    stale = AsyncWebhookClient(fake_slack.new_response_url())
    clock.advance(minutes=31)
    expired = await stale.send(text="too late")
    assert json.loads(expired.body)["error"] == "expired_url"


# ------------------------------------------------------------------ recording and waiting


async def test_wait_for_returns_when_the_call_arrives(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    async def later() -> None:
        await client.chat_postMessage(channel="C1", text="first")
        await client.chat_postMessage(channel="C2", text="second")

    task = asyncio.create_task(later())
    (call,) = await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: c.args["channel"] == "C2"
    )
    assert call.response["ok"] and call.args["text"] == "second"
    await task
    assert len(await fake_slack.wait_for("chat.postMessage", count=2)) == 2


async def test_wait_for_times_out_with_a_useful_message(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    await client.auth_test()
    with pytest.raises(AssertionError, match=r"views.open.*auth.test"):
        await fake_slack.wait_for("views.open", timeout=0.05)


def test_run_in_thread_serves_sync_clients() -> None:
    slack = FakeSlack()
    with slack.run_in_thread():
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        client.chat_postMessage(channel="C1", text="from a thread")
        assert slack.wait_for_sync("chat.postMessage")[0].args["text"] == "from a thread"
        assert [m.text for m in slack.messages("C1")] == ["from a thread"]
        with pytest.raises(AssertionError):
            slack.wait_for_sync("views.open", timeout=0.05)


async def test_async_wait_for_works_across_threads() -> None:
    slack = FakeSlack()
    with slack.run_in_thread():
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        task = asyncio.create_task(client.auth_test())
        (call,) = await slack.wait_for("auth.test")
        assert call.ok
        await task


@pytest.fixture
async def started() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    await slack.start()
    yield slack
    await slack.stop()


async def test_explicit_start_stop_uses_an_ephemeral_loopback_port(started: FakeSlack) -> None:
    host, _, port = started.base_url.removeprefix("http://").partition(":")
    assert (host, started.api_url) == ("127.0.0.1", f"{started.base_url}/api/")
    assert int(port) > 0


def test_interaction_bodies_are_quoted_as_urllib_quotes_them() -> None:
    every_character = "".join(chr(c) for c in range(0x250)) + "“quoted” ✅ 🧪"
    for payload in ({"text": every_character}, {"view": modal()}, {}):
        body = interactive_body(payload)
        assert body == "payload=" + quote(json.dumps(payload))
        assert json.loads(parse_qs(body)["payload"][0]) == payload
    assert percent_encoded(every_character) == quote(every_character)


async def test_answers_leave_without_waiting_for_an_ack(started: FakeSlack) -> None:
    # With Nagle's algorithm on, an answer's body waits for the ack of its headers: 40 ms per
    # call on a kept-alive connection. Every connection the fake accepts has it off.
    async with httpx.AsyncClient(base_url=started.api_url) as http:
        for _ in range(2):  # the second goes over the kept-alive connection
            answer = await http.post("auth.test", headers={"Authorization": "Bearer xoxb-1"})
            assert answer.json()["ok"]
        assert started._server is not None
        connections = list(started._server.server_state.connections)
        assert connections
        for connection in connections:
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


async def test_posting_in_a_channel_the_app_is_not_in_is_not_in_channel(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    fake_slack.add_channel("C0IN", "in")
    fake_slack.add_channel("C0OUT", "out", bot_member=False)
    assert (await client.chat_postMessage(channel="C0IN", text="hi"))["ok"]
    error = await api_error(client.chat_postMessage(channel="C0OUT", text="hi"))
    assert error.response["error"] == "not_in_channel"
    assert fake_slack.messages("C0OUT") == []
