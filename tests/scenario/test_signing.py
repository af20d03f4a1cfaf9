"""Signing over HTTP: who is refused and how the modal says so, re-confirmation after an edit,
exactly one submit under a crowd, failed submits that leave the request truthful, and forged
or stale input refused clearly."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from emulators.approvalflow.seed import BOB, CAROL
from emulators.slack import FakeView
from emulators.slack.signing import interactive_body, signed_headers
from handlers.blocks.requests import EVIDENCE_ACTION
from services.approvalflow.exchange import Timeouts
from services.requests.model import Status
from tests.scenario.harness import SIGNING_SECRET
from tests.scenario.requests_kit import (
    Posted,
    Requests,
    action_ids,
    buttons,
    message_text,
    view_text,
)

FORM = "application/x-www-form-urlencoded"
REVIEWERS = ("U0BOB", "U0CAROL", "U0DAVE", "U0ERIN", "U0FRANK")


async def status(world: Requests, posted: Posted) -> Status:
    return (await world.bot.container.requests.get(posted.id)).status


# --- refused before the form: each with its own message, and the fix where there is one ----


async def test_self_approval_is_refused(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    modal = await world.click("U0ALICE", posted.id, posted=posted)
    assert modal.callback_id != "request_sign" and world.slack.violations == []
    assert "a requester cannot sign their own request" in view_text(modal)


async def test_a_non_reviewer_is_refused_and_audited(world: Requests) -> None:
    await world.ready("U0CAROL")
    posted = await world.request("cs-eng184 <@U0BOB>")
    modal = await world.click("U0CAROL", posted.id, posted=posted)
    assert "Only the reviewers named" in view_text(modal)
    refused = [e for e in await world.audit() if e.action == "request.sign.refused"]
    assert [e.actor_slack_id for e in refused] == ["U0CAROL"]


async def test_not_linked_gets_a_connect_button(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    modal = await world.click("U0CAROL", posted.id, posted=posted)
    assert "have not linked your Atlassian account" in view_text(modal)
    [connect] = buttons(modal.blocks)
    assert "/sandbox/authorize?" in connect["url"]
    # The button is an ordinary connect for that person: it links them.
    result = await world.linking.consent(connect["url"], "carol@example.com")
    assert result.url.params.get("result") == "linked"


async def test_not_enrolled_gets_an_enrol_button_that_sends_the_qr(world: Requests) -> None:
    await world.link("U0CAROL")
    posted = await world.request("cs-eng184")
    modal = await world.click("U0CAROL", posted.id, posted=posted)
    assert "no Approval Token yet" in view_text(modal)
    [enrol] = buttons(modal.blocks)
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0CAROL"},
        "api_app_id": "A0APP",
        "trigger_id": world.slack.new_trigger_id("U0CAROL"),
        "container": {"type": "view", "view_id": modal.id},
        "view": modal.view,
        "actions": [{"type": "button", "action_id": enrol["action_id"], "block_id": "x"}],
    }
    updates = len(world.slack.calls_to("views.update"))
    assert (await world.bot.interact(payload)).status_code == 200
    await world.slack.wait_for("views.update", count=updates + 1)
    assert "I sent you a direct message with a QR code" in view_text(world.slack.views[modal.id])
    dm = world.slack.dm_messages("U0CAROL")[-1]
    assert "Enter code" in json.dumps(dm.blocks)
    assert (await world.bot.container.tokens.status("U0CAROL")).condition.value == "pending"


async def test_a_double_click_opens_one_modal_and_keeps_it(world: Requests) -> None:
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    slack = world.slack
    clicks = [world.click_payload("U0BOB", posted.id, posted=posted) for _ in range(2)]
    assert clicks[0]["trigger_id"] != clicks[1]["trigger_id"]
    answers = await asyncio.gather(*(world.bot.interact(click) for click in clicks))
    assert [a.status_code for a in answers] == [200, 200]
    await slack.wait_for("views.update", where=lambda c: c.ok)
    [modal] = slack.view_stack("U0BOB")
    assert modal.callback_id == "request_sign"
    assert len(slack.calls_to("views.open")) == 1
    # The modal is there to sign: the second click cost the first nothing.
    answer = await world.submit("U0BOB", modal, code=world.code("U0BOB"), comment="LGTM")
    assert "Signed and submitted" in view_text(answer["view"])
    assert slack.violations == []


async def test_a_click_once_the_modal_was_closed_opens_it_again(world: Requests) -> None:
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    first = await world.click("U0BOB", posted.id, posted=posted)
    world.slack.close_view(first.id)
    modal = await world.click("U0BOB", posted.id, posted=posted)
    assert modal.callback_id == "request_sign" and modal.id != first.id
    assert len(world.slack.calls_to("views.open")) == 2


async def test_expired_and_locked_tokens_each_say_so(world: Requests) -> None:
    await world.ready("U0CAROL")
    world.clock.advance(days=31)  # Carol's and Bob's tokens expire (30 days)
    await world.enrol("U0BOB")  # Bob renews
    posted = await world.request("cs-eng184")
    expired = await world.click("U0CAROL", posted.id, posted=posted)
    assert "Approval Token expired on" in view_text(expired)
    assert [b["action_id"] for b in buttons(expired.blocks)] == ["request_sign_enroll"]

    form = await world.click("U0BOB", posted.id, posted=posted)
    for tries_left in (4, 3, 2, 1):
        wrong = await world.submit("U0BOB", form, code="000000")
        assert wrong["response_action"] == "errors"
        assert f"{tries_left} tr" in wrong["errors"]["code"]
    locked = await world.submit("U0BOB", form, code="000000")
    assert "locked until" in locked["errors"]["code"]
    again = await world.click("U0BOB", posted.id, posted=posted)
    assert "locked until" in view_text(again) and buttons(again.blocks) == []
    assert world.sandbox.calls_to("submit_change_set") == []
    assert await status(world, posted) is Status.PENDING


async def test_a_bad_code_format_is_an_inline_error_that_costs_nothing(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, posted=posted)
    answer = await world.submit("U0BOB", form, code="12ab")
    assert answer["response_action"] == "errors" and "6 digits" in answer["errors"]["code"]
    ok = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert "Signed and submitted" in view_text(ok["view"])


# --- the pages change ------------------------------------------------------------------------


async def test_edited_since_the_request_shows_in_the_form(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    world.sandbox.edit_page("65602")
    form = await world.click("U0BOB", posted.id, posted=posted)
    text = view_text(form)
    assert "changed since the request was posted" in text and "v4" in text


async def test_edited_while_the_form_is_open_asks_to_reconfirm(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, posted=posted)
    world.sandbox.edit_page("65601")
    updates = len(world.slack.calls_to("views.update"))
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert answer["response_action"] == "update"
    assert "changed since this form opened" in view_text(answer["view"])
    await world.slack.wait_for("views.update", count=updates + 1)
    fresh = world.slack.views[form.id]
    assert "changed while this form was open" in view_text(fresh) and "v8" in view_text(fresh)
    assert world.sandbox.calls_to("submit_change_set") == []
    signed = await world.submit("U0BOB", fresh, code=world.code("U0BOB"))
    assert "Signed and submitted" in view_text(signed["view"])


# --- exactly once ----------------------------------------------------------------------------


async def test_twenty_concurrent_approvals_submit_once(world: Requests) -> None:
    await world.ready(*REVIEWERS[1:])
    posted = await world.request("cs-eng184")
    forms: dict[str, list[FakeView]] = {}
    for user in REVIEWERS:
        # Each person opens the form twice (two windows), and each window is sent twice.
        forms[user] = [await world.click(user, posted.id, posted=posted) for _ in range(2)]
    submissions: list[dict[str, Any]] = []
    for user in REVIEWERS:
        code = world.code(user)
        for view in forms[user]:
            submissions += [world.submission(user, view, code)] * 2
    assert len(submissions) == 20
    answers = await asyncio.gather(*(world.bot.interact(s) for s in submissions))
    assert all(a.status_code == 200 for a in answers)
    bodies = [a.json() for a in answers]
    signed = [b for b in bodies if "Signed and submitted" in view_text(b.get("view", {}))]
    assert len(signed) == 1
    assert len(world.sandbox.calls_to("submit_change_set")) == 1
    # Everyone else was told what happened (no silent failures, no second signature).
    for body in bodies:
        assert body.get("response_action") in ("update", "errors"), body
    request = await world.bot.container.requests.get(posted.id)
    assert len(request.signatures) == 1 and request.status is Status.SUBMITTED
    late = await world.click("U0CAROL", posted.id, posted=posted)
    assert "already approved" in view_text(late) or "already" in view_text(late)
    assert world.slack.violations == []


# --- the submit fails ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"status": 500}, "did not answer properly"),
        ({"status": 403}, "missing the permission"),
    ],
)
async def test_a_failed_submit_leaves_the_request_pending_and_truthful(
    world: Requests, fault: dict[str, Any], says: str
) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, posted=posted)
    world.sandbox.inject_fault("submit_change_set", **fault)
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert answer["response_action"] == "update" and says in view_text(answer["view"])
    assert await status(world, posted) is Status.PENDING
    message = world.message(posted)
    assert "The last submit failed" in message_text(message)
    assert len(buttons(message.blocks)) == 2, "it can be signed again"
    assert "Bob Baker" not in message_text(message).split("failed")[0]
    assert [e.action for e in await world.audit()].count("request.submit.failed") == 1

    # Once the cause is gone, the same person signs again and it goes through.
    again = await world.click("U0BOB", posted.id, posted=posted)
    done = await world.submit("U0BOB", again, code=world.code("U0BOB"))
    assert "Signed and submitted" in view_text(done["view"])
    assert "The last submit failed" not in message_text(world.message(posted))


async def test_a_submit_timeout_is_settled_by_asking_approvalflow(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, posted=posted)
    # The answer never comes in time, though the sandbox did nothing (500 after the hang).
    world.bot.container.approvalflow._timeouts = Timeouts(connect_seconds=0.3, read_seconds=0.3)
    world.sandbox.inject_fault("submit_change_set", status=500, hang_seconds=1.0)
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert "did not answer properly" in view_text(answer["view"]) or "part-way" in view_text(
        answer["view"]
    )
    assert await status(world, posted) is Status.PENDING
    assert "The last submit failed" in message_text(world.message(posted))

    # A timeout after the work was done: the bot looks, finds it submitted, and says so.
    again = await world.click("U0BOB", posted.id, posted=posted)
    world.sandbox.inject_fault("submit_change_set", status=None, hang_seconds=1.0)
    await world.submit("U0BOB", again, code=world.code("U0BOB"))
    assert await status(world, posted) is Status.SUBMITTED
    assert len(world.sandbox.calls_to("submit_change_set")) == 2, "never resubmitted blindly"
    text = message_text(world.message(posted))
    assert "did not confirm the submit in time" in text and action_ids(
        world.message(posted).blocks
    ) == [EVIDENCE_ACTION]


async def test_a_slow_submit_shows_submitting_then_the_outcome(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, posted=posted)
    world.sandbox.set_latency("submit_change_set", 2.3)
    updates = len(world.slack.calls_to("views.update"))
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert "submitting to ApprovalFlow" in view_text(answer["view"])
    await world.slack.wait_for("views.update", count=updates + 1, timeout=10)
    assert "Signed and submitted" in view_text(world.slack.views[form.id])
    [update] = world.slack.calls_to("views.update")[updates:]
    assert update.ok


async def test_the_signer_is_answered_before_the_news_which_follows_once_in_order(
    world: Requests,
) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, posted=posted)
    # Slack slow to rewrite messages: the signer's answer must not wait for it.
    world.slack.set_latency("chat.update", 1.5)
    body = interactive_body(world.submission("U0BOB", form, world.code("U0BOB")))
    calls_before = len(world.slack.calls)
    answer = await world.bot.http.post(
        f"{world.bot.url}/slack/events",
        content=body,
        headers=signed_headers(SIGNING_SECRET, body, content_type=FORM),
    )
    assert "Signed and submitted" in view_text(answer.json()["view"])
    assert world.slack.calls_to("chat.update") == []  # still on its way
    # What a crash must not lose is written before the answer: the submit and its audit.
    assert await status(world, posted) is Status.SUBMITTED
    actions = [entry.action for entry in await world.audit()]
    assert actions[-2:] == ["request.signature.recorded", "request.submit.succeeded"]

    await world.bot.settled()
    news = [
        c
        for c in world.slack.calls[calls_before:]
        if c.method in ("chat.update", "chat.postMessage")
    ]
    assert [(c.method, c.args.get("thread_ts"), c.args["channel"]) for c in news] == [
        ("chat.update", None, posted.channel),
        ("chat.postMessage", posted.ts, posted.channel),
        ("chat.postMessage", None, "U0ALICE"),
    ]
    assert "Bob Baker" in message_text(world.message(posted))
    assert len(world.sandbox.calls_to("submit_change_set")) == 1


# --- bad input ----------------------------------------------------------------------------


async def test_bad_ids_by_command(world: Requests) -> None:
    for text, says in (
        ("approve", "needs a request id"),
        ("approve hello", "is not a request id"),
        ("reject AR-7K3Q AR-7K3R", "one request id"),
    ):
        answer = await world.command(text, "U0BOB")
        assert answer is not None and says in (answer.text or ""), text
    unknown = await world.by_command("U0BOB", "approve ar-zzzz")
    assert "There is no request AR-ZZZZ" in view_text(unknown)
    posted = await world.request("cs-eng184")
    lower = await world.by_command("U0BOB", f"approve {posted.id.lower()}")
    assert lower.callback_id == "request_sign"


async def test_closed_request_ids_are_refused(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, posted=posted)
    await world.submit("U0BOB", form, code=world.code("U0BOB"))
    await world.ready("U0CAROL")
    late = await world.by_command("U0CAROL", f"reject {posted.id}")
    assert "already approved by Bob Baker" in view_text(late)
    # And the old form, submitted again (a replay), records nothing more.
    replay = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert "already approved" in view_text(replay["view"])
    assert len(world.sandbox.calls_to("submit_change_set")) == 1


async def test_forged_button_values(world: Requests) -> None:
    for value in ("U0BOB", "AR-7K3Q|U0CAROL", "ar-7k3q", "x" * 3000, ""):
        updates = len(world.slack.calls_to("views.open"))
        payload = {
            "type": "block_actions",
            "team": {"id": "T0TEAM"},
            "user": {"id": "U0BOB"},
            "api_app_id": "A0APP",
            "trigger_id": world.slack.new_trigger_id("U0BOB"),
            "container": {"type": "message"},
            "actions": [{"type": "button", "action_id": "request_approve", "value": value}],
        }
        assert (await world.bot.interact(payload)).status_code == 200
        await world.slack.wait_for("views.open", count=updates + 1)
        [modal] = world.slack.view_stack("U0BOB")
        assert "does not name a request" in view_text(modal), value


async def test_forged_private_metadata(world: Requests) -> None:
    await world.ready("U0CAROL")
    mine = await world.request("cs-eng184 <@U0BOB>")
    other = await world.request("65611 <@U0CAROL>")
    form = await world.click("U0BOB", mine.id, posted=mine)
    meta = json.loads(form.private_metadata)

    # Another request's id: Bob is no reviewer of it.
    forged = json.dumps({**meta, "request": other.id}, separators=(",", ":"))
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"), metadata=forged)
    assert "Only the reviewers named" in view_text(answer["view"])

    # Something we never write (a user id smuggled in, a broken digest): not our form.
    for bad in (
        json.dumps({**meta, "user": "U0CAROL"}),
        json.dumps({**meta, "digest": "0" * 10}),
        "not json",
    ):
        answer = await world.submit("U0BOB", form, code=world.code("U0BOB"), metadata=bad)
        assert "out of date" in view_text(answer["view"]), bad

    # A foreign user submitting Bob's form: checked as who they are (not a reviewer).
    answer = await world.submit("U0CAROL", form, code=world.code("U0CAROL"))
    assert "Only the reviewers named" in view_text(answer["view"])

    # Another request Bob may sign, with this form's digest: he must see it first.
    third = await world.request("65602")
    forged = json.dumps({**meta, "request": third.id}, separators=(",", ":"))
    updates = len(world.slack.calls_to("views.update"))
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"), metadata=forged)
    assert "changed since this form opened" in view_text(answer["view"])
    await world.slack.wait_for("views.update", count=updates + 1)
    assert "page 65602" in view_text(world.slack.views[form.id])
    assert world.sandbox.calls_to("submit_page") == []
    assert world.sandbox.calls_to("submit_change_set") == []
    for posted in (mine, other, third):
        assert await status(world, posted) is Status.PENDING


async def test_submitted_as_each_approver(world: Requests) -> None:
    await world.ready("U0CAROL")
    first = await world.request("65601")
    second = await world.request("65611")
    for user, posted in (("U0BOB", first), ("U0CAROL", second)):
        form = await world.click(user, posted.id, posted=posted)
        await world.submit(user, form, code=world.code(user))
    who = {c.body["pageId"]: c.account_id for c in world.sandbox.calls_to("submit_page")}
    assert who == {"65601": BOB, "65611": CAROL}


async def test_slack_calls_share_connections(world: Requests) -> None:
    # Without a session of its own, slack_sdk opens a new connection for every call.
    await world.ready("U0CAROL")
    for user, target in (("U0BOB", "65601"), ("U0CAROL", "65611")):
        posted = await world.request(target)
        form = await world.click(user, posted.id, posted=posted)
        await world.submit(user, form, code=world.code(user))
    calls = [c for c in world.slack.calls if c.peer]
    assert len(calls) >= 10
    assert len({c.peer for c in calls}) <= len(calls) // 3
