"""Requests over HTTP: post -> approve with a code -> submit as the approver -> the message
rewritten in place, a thread reply, a DM -> tracking to all_approved; reject; expiry and
reminders; pending and the Home tab; watched spaces; what is refused at request time."""

from __future__ import annotations

import re

import pytest

from bot.wiring import (
    EXPIRE_REQUESTS_JOB,
    REQUEST_REMINDERS_JOB,
    TRACK_REVIEWS_JOB,
    WATCHED_SPACES_JOB,
)
from emulators.approvalflow.seed import ALICE, BOB
from emulators.slack import FakeSlack
from emulators.slack.blockkit_limits import view_problems
from handlers.blocks.requests import EVIDENCE_ACTION
from services.secretbox import new_key
from tests.fakes.clock import FakeClock
from tests.scenario.requests_kit import (
    Requests,
    action_ids,
    buttons,
    message_text,
    requests_world,
    view_text,
)

UTC_TIME = re.compile(r"2026-11-23 \d\d:\d\d:\d\d UTC")


async def test_request_approve_submit_as_the_approver_and_track(world: Requests) -> None:
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    message = world.message(posted)
    text = message_text(message)
    for part in ("PR-184 Auth docs update", posted.id, "v7", "3 submittable", "<@U0BOB>"):
        assert part in text, part
    assert [b["value"] for b in buttons(message.blocks)] == [posted.id, posted.id]
    assert "sandbox" in text

    form = await world.click("U0BOB", posted.id, posted=posted)
    assert view_problems(form.view) == []
    shown = view_text(form)
    assert "I approve submitting these 3 pages for review" in shown and "v12" in shown
    assert form.callback_id == "request_sign"

    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"), comment="LGTM")
    assert answer["response_action"] == "update"
    assert "Signed and submitted" in view_text(answer["view"])

    # Submitted once, under the approver's own Atlassian account (not the requester's).
    [submit] = world.sandbox.calls_to("submit_change_set")
    assert submit.account_id == BOB and submit.account_id != ALICE
    assert submit.client_id == "approvals-bot-sandbox"

    # The channel message, rewritten in place: no buttons, the signature, the outcomes.
    message = world.message(posted)
    assert message.edited_ts is not None
    text = message_text(message)
    assert action_ids(message.blocks) == [EVIDENCE_ACTION]
    assert "Bob Baker" in text and UTC_TIME.search(text) and "Approved" in text
    assert "I approve submitting these 3 pages for review" in text
    assert "Submitted* (3)" in text and "Comment: LGTM" in text
    [reply] = world.slack.replies(posted.channel, posted.ts)
    assert "Bob Baker approved this" in reply.text
    assert posted.id in world.slack.dm_messages("U0ALICE")[-1].text

    actions = [entry.action for entry in await world.audit()]
    assert "request.signature.recorded" in actions and "request.submit.succeeded" in actions

    # Tracking: nothing changes until the reviewers act in ApprovalFlow.
    track = world.job(TRACK_REVIEWS_JOB)
    world.clock.advance(minutes=2)
    await track.run()
    for page in ("65601", "65602", "65603"):
        world.sandbox.approve_page(page, "carol@example.com")
    world.clock.advance(minutes=5)
    await track.run()
    message = world.message(posted)
    assert "all pages approved" in message_text(message)
    notes = [m.text for m in world.slack.replies(posted.channel, posted.ts)]
    assert any("Every page is approved" in note for note in notes)
    assert world.slack.violations == []


async def test_reject_needs_a_reason(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, "reject", posted=posted)
    assert "reason" in view_text(form).lower()

    short = await world.submit("U0BOB", form, code=world.code("U0BOB"), reason="too short")
    assert short["response_action"] == "errors" and "20-280" in short["errors"]["reason"]

    reason = "The SSO section still describes the old login page."
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"), reason=reason)
    assert answer["response_action"] == "update" and "Rejected" in view_text(answer["view"])
    assert world.sandbox.calls_to("submit_change_set") == []
    text = message_text(world.message(posted))
    assert "Rejected" in text and reason in text and "Bob Baker" in text
    assert action_ids(world.message(posted).blocks) == [EVIDENCE_ACTION]
    assert "rejected by Bob Baker" in world.slack.dm_messages("U0ALICE")[-1].text
    assert world.slack.replies(posted.channel, posted.ts)

    # A closed request says so to whoever comes next.
    again = await world.click("U0BOB", posted.id, posted=posted)
    assert "already rejected" in view_text(again)


async def test_nothing_submittable_posts_nothing(world: Requests) -> None:
    before = len(world.slack.calls_to("chat.postMessage"))
    answer = await world.command("request cs-eng190", "U0ALICE")
    assert answer is not None and "Nothing to sign off" in (answer.text or "")
    assert "already has a pending approval" in (answer.text or "")
    assert len(world.slack.calls_to("chat.postMessage")) == before


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("request", "That needs more"),
        ("request not/a/target", "Paste"),
        ("request https://other.example.com/wiki/spaces/X/pages/1", "this bot works with"),
        ("request cs-eng184 @bob", "can't tell who"),
        ("request cs-eng184 cs-eng190", "One target per request"),
        ("request cs-nope", "not found"),
        ("request cs-eng184 <@U0ALICE>", "cannot name yourself"),
        ("request 65611 <#C0OTHER|other>", "invite me"),
    ],
)
async def test_bad_requests_are_refused_clearly(world: Requests, text: str, words: str) -> None:
    world.slack.fail_next("chat.postMessage", "not_in_channel")
    answer = await world.command(text, "U0ALICE")
    assert answer is not None
    assert words.lower() in (answer.text or "").lower(), answer.text
    assert "Traceback" not in (answer.text or "")
    posts = world.slack.calls_to("chat.postMessage")
    assert not [c for c in posts if c.ok and str(c.args["channel"]).startswith("C")]


async def test_page_request_by_link_in_the_named_channel(world: Requests) -> None:
    link = "<https://sandbox.atlassian.net/wiki/spaces/ENG/pages/65611/ADRs|Architecture records>"
    posted = await world.request(f"{link} <#C0REVIEW|review>")
    assert posted.channel == "C0REVIEW"
    form = await world.click("U0BOB", posted.id, posted=posted)
    assert "I approve submitting this page for review" in view_text(form)
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert "Signed and submitted" in view_text(answer["view"])
    [submit] = world.sandbox.calls_to("submit_page")
    assert submit.account_id == BOB
    world.clock.advance(minutes=2)
    world.sandbox.approve_page("65611", "carol@example.com")
    await world.job(TRACK_REVIEWS_JOB).run()
    assert "all pages approved" in message_text(world.message(posted))


async def test_pending_list_and_home(world: Requests) -> None:
    posted = await world.request("cs-eng184 <@U0BOB>")
    answer = await world.command("pending", "U0BOB")
    assert answer is not None and posted.id in (answer.text or "") + str(answer.blocks)
    assert [b["value"] for b in buttons(answer.blocks)] == [posted.id, posted.id]
    mine = await world.command("pending", "U0ALICE")
    assert mine is not None and "No requests" in (mine.text or "")

    response = await world.bot.post_signed(
        '{"type":"event_callback","team_id":"T0TEAM","api_app_id":"A0APP","event_id":"Ev1",'
        '"event_time":1,"event":{"type":"app_home_opened","user":"U0BOB","tab":"home",'
        '"channel":"D0BOB","event_ts":"1.0"}}',
        "application/json",
    )
    assert response.status_code == 200
    await world.slack.wait_for("views.publish")
    home = world.slack.home_view("U0BOB")
    assert home is not None
    text = view_text(home)
    assert posted.id in text and "Waiting for your signature" in text
    assert "Atlassian link" in text and "Approval Token" in text and "active until" in text
    assert [b["value"] for b in buttons(home.blocks)] == [posted.id, posted.id]


async def test_reminder_then_expiry(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    world.clock.advance(hours=25)
    await world.job(REQUEST_REMINDERS_JOB).run()
    await world.job(REQUEST_REMINDERS_JOB).run()
    [reminder] = world.slack.replies(posted.channel, posted.ts)
    assert "Reminder" in reminder.text and posted.id in reminder.text

    world.clock.advance(hours=48)
    await world.job(EXPIRE_REQUESTS_JOB).run()
    message = world.message(posted)
    assert "Expired" in message_text(message) and action_ids(message.blocks) == [EVIDENCE_ACTION]
    assert "expired" in world.slack.dm_messages("U0ALICE")[-1].text
    late = await world.click("U0BOB", posted.id, posted=posted)
    assert "expired" in view_text(late)


async def test_group_reviewers(world: Requests) -> None:
    await world.ready("U0CAROL")
    world.slack.stub(
        "usergroups.users.list",
        lambda args: {"users": ["U0CAROL"]} if args.get("usergroup") == "S0DOCS" else {},
    )
    posted = await world.request("cs-eng184 <!subteam^S0DOCS|@docs>")
    assert "<!subteam^S0DOCS>" in message_text(world.message(posted))
    refused = await world.click("U0BOB", posted.id, posted=posted)
    assert "Only the reviewers named" in view_text(refused)
    form = await world.click("U0CAROL", posted.id, posted=posted)
    answer = await world.submit("U0CAROL", form, code=world.code("U0CAROL"))
    assert "Signed and submitted" in view_text(answer["view"])


async def test_watched_space_posts_each_new_change_set_once(world: Requests) -> None:
    refused = await world.command("watch 98301", "U0BOB")
    assert refused is not None and "workspace admins" in (refused.text or "")
    world.slack.add_user(
        "U0ALICE", real_name="Alice Anders", email="alice@example.com", is_admin=True
    )
    done = await world.command("watch 98301 <#C0WATCH|watch>", "U0ALICE")
    assert done is not None and "Watching space `ENG` (Engineering Docs, id 98301)" in (
        done.text or ""
    )

    job = world.job(WATCHED_SPACES_JOB)
    await job.run()
    await job.run()
    posts = [c for c in world.slack.calls_to("chat.postMessage") if c.args["channel"] == "C0WATCH"]
    assert len(posts) == 1 and "cs-eng184" in str(posts[0].args["text"])

    stopped = await world.command("unwatch 98301", "U0ALICE")
    assert stopped is not None and "Stopped watching" in (stopped.text or "")
    nope = await world.command("watch NOPE", "U0ALICE")
    assert nope is not None and "no Confluence space with the key NOPE" in (nope.text or "")
    docs = await world.command("watch DOCS", "U0ALICE")
    assert docs is not None and "Watching space `DOCS` (Product Documentation, id 98303)" in (
        docs.text or ""
    )
    again = await world.command("unwatch docs", "U0ALICE")  # keys are case-blind to people
    assert again is not None and "Stopped watching space `DOCS`" in (again.text or "")
    bad = await world.command("watch EN?G", "U0ALICE")
    assert bad is not None and "not a space key or id" in (bad.text or "")


async def test_restart_mid_flow_loses_nothing(
    fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock, tmp_path: object
) -> None:
    # The same store, sandbox data and keys: nothing carried over in memory.
    env = {"DATA_DIR": str(tmp_path), "ENCRYPTION_KEYS": new_key()}
    async with requests_world(fake_slack, redis_url, clock, **env) as first:
        await first.ready("U0ALICE", "U0BOB")
        posted = await first.request("cs-eng184")
        secrets = dict(first.secrets)
    async with requests_world(fake_slack, redis_url, clock, **env) as second:
        second.secrets = secrets
        second.last_step = {"U0BOB": second.step()}
        form = await second.click("U0BOB", posted.id, posted=posted)
        answer = await second.submit("U0BOB", form, code=second.code("U0BOB"))
        assert "Signed and submitted" in view_text(answer["view"])
        assert action_ids(second.message(posted).blocks) == [EVIDENCE_ACTION]
        [submit] = second.sandbox.calls_to("submit_change_set")
        assert submit.account_id == BOB
