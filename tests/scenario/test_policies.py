"""Signing policies over HTTP: a policy file read at start, three stages signed in order with their
own meanings, submitted as the last signer; stages refused before they open, a person twice, a
rejection mid-way, reassignment and escalation; and a policy file with mistakes refused at start."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.wiring import ESCALATIONS_JOB
from emulators.approvalflow.seed import ERIN
from emulators.slack import FakeSlack, FakeUsergroup
from services.requests.model import Status
from tests.fakes.clock import FakeClock
from tests.scenario.harness import bot_environment
from tests.scenario.requests_kit import Posted, Requests, message_text, requests_world, view_text

REVIEW_GROUP = "S0REVIEW"
REVIEWERS = ["U0CAROL", "U0DAVE", "U0FRANK"]
POLICY_FILE = """
default: doc-control
policies:
  doc-control:
    description: Author, two peer reviewers, QA
    stages:
      - name: Author
        meaning: I am the author of these changes
        signers: [U0BOB]
      - name: Review
        meaning: I reviewed these changes
        signers: ["@doc-reviewers"]
        required: 2
        escalate_after: 24h
        escalate_to: [U0FRANK]
      - name: QA
        meaning: I approve submitting them for review
        signers: [U0ERIN]
  quick:
    description: Anyone but the requester
    stages:
      - name: Approval
        meaning: I approve submitting them for review
        signers: anyone
"""


def add_groups(slack: FakeSlack) -> None:
    slack.usergroups[REVIEW_GROUP] = FakeUsergroup(
        REVIEW_GROUP, "doc-reviewers", "Doc reviewers", list(REVIEWERS)
    )


@asynccontextmanager
async def policies_world(
    fake_slack: FakeSlack, redis_url: str, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Requests]:
    """The bot with POLICY_FILE and its group; the requester and every stage's signers ready."""
    policies = tmp_path / "policies.yml"
    policies.write_text(POLICY_FILE)
    add_groups(fake_slack)
    async with requests_world(
        fake_slack, redis_url, clock, SIGNING_POLICIES=str(policies)
    ) as world:
        await world.ready("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN")
        yield world


@pytest.fixture
async def world(
    fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Requests]:
    async with policies_world(fake_slack, redis_url, clock, tmp_path) as world:
        yield world


async def sign(world: Requests, user: str, posted: Posted) -> str:
    """Approve from the message; the text the signer reads after submitting (or the refusal)."""
    form = await world.click(user, posted.id, posted=posted)
    if form.callback_id != "request_sign":
        return view_text(form)
    answer = await world.submit(user, form, code=world.code(user))
    return view_text(answer["view"]) if "view" in answer else str(answer)


def thread(world: Requests, posted: Posted) -> str:
    replies = [
        str(c.args.get("text"))
        for c in world.slack.calls_to("chat.postMessage")
        if c.args.get("thread_ts") == posted.ts
    ]
    return "\n".join(replies)


def dms(world: Requests, user: str) -> str:
    return "\n".join(
        str(c.args.get("text"))
        for c in world.slack.calls_to("chat.postMessage")
        if c.args.get("channel") == user
    )


async def test_three_stages_signed_in_order_then_submitted_as_qa(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    shown = message_text(world.message(posted))
    assert (
        "doc-control" in shown and "*Author*: 0 of 1 signed, waiting · may sign: <@U0BOB>" in shown
    )
    assert "opens later" in shown and "<@U0ERIN>" in shown

    # QA first: refused, told which stage is open and who signs it.
    early = await sign(world, "U0ERIN", posted)
    assert "stage 1 of 3, “Author” is open" in early and "<@U0BOB> signs it" in early

    # The author: the form shows the stage's own meaning.
    form = await world.click("U0BOB", posted.id, posted=posted)
    assert "I am the author of these changes" in view_text(form)
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert "waiting for *Review* now" in view_text(answer["view"])
    assert world.sandbox.calls_to("submit_change_set") == []
    notes = thread(world, posted)
    assert "Bob Baker signed stage 1 of 3, “Author”" in notes and "(1 of 1)" in notes
    assert "“Review” is open: 2 of <!subteam^S0REVIEW>" in notes, "reviewers mentioned now"
    assert "stage “Author” is signed" in dms(world, "U0ALICE")

    # Two reviewers of the group; one of them twice is refused.
    assert "waiting for *Review*" in await sign(world, "U0CAROL", posted)
    shown = message_text(world.message(posted))
    assert "*Review*: 1 of 2 signed, waiting · may sign: <!subteam^S0REVIEW>" in shown
    # Who of the group may still sign: its members less the one who signed.
    assert "may sign: <!subteam^S0REVIEW> (<@U0DAVE>, <@U0FRANK>)" in shown
    assert "You already approved" in await sign(world, "U0CAROL", posted)
    assert "waiting for *QA*" in await sign(world, "U0DAVE", posted)
    shown = message_text(world.message(posted))
    assert "*Review*: signed (2 of 2)" in shown and "Carol Chen, Dave Diaz" in shown
    assert "I reviewed these changes" in shown

    # QA completes the last stage: the submit is made with QA's own account.
    done = await sign(world, "U0ERIN", posted)
    assert "Signed and submitted" in done
    [submit] = world.sandbox.calls_to("submit_change_set")
    assert submit.account_id == ERIN
    request = await world.bot.container.requests.get(posted.id)
    assert request.status is Status.SUBMITTED
    assert [(s.signer.slack_id, s.stage, s.meaning) for s in request.signatures] == [
        ("U0BOB", 0, "I am the author of these changes"),
        ("U0CAROL", 1, "I reviewed these changes"),
        ("U0DAVE", 1, "I reviewed these changes"),
        ("U0ERIN", 2, "I approve submitting them for review"),
    ]
    recorded = [e for e in await world.audit() if e.action == "request.signature.recorded"]
    assert [e.meaning for e in recorded][-1] == "I approve submitting them for review"


async def test_a_rejection_at_stage_two_closes_it(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    await sign(world, "U0BOB", posted)
    form = await world.click("U0CAROL", posted.id, "reject", posted=posted)
    reason = "The SSO section contradicts the policy page."
    answer = await world.submit("U0CAROL", form, code=world.code("U0CAROL"), reason=reason)
    assert "Rejected and signed" in view_text(answer["view"])
    request = await world.bot.container.requests.get(posted.id)
    assert request.status is Status.REJECTED
    assert "not signed" in message_text(world.message(posted))
    assert "closed" in (await sign(world, "U0DAVE", posted)) or "rejected" in (
        await sign(world, "U0DAVE", posted)
    )
    assert world.sandbox.calls_to("submit_change_set") == []


async def test_pending_lists_only_what_the_caller_can_sign_now(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    for user, expected in (("U0BOB", True), ("U0CAROL", False), ("U0ERIN", False)):
        answer = await world.command("pending", user)
        assert answer is not None
        assert (posted.id in (answer.text or "") + str(answer.blocks)) is expected, user
    await sign(world, "U0BOB", posted)
    answer = await world.command("pending", "U0CAROL")
    assert answer is not None and posted.id in (answer.text or "") + str(answer.blocks)


async def test_policies_command_and_named_policy(world: Requests) -> None:
    answer = await world.command("policies", "U0CAROL")
    assert answer is not None
    listed = str(answer.blocks)
    assert "doc-control* (default)" in listed and "quick" in listed
    assert "2 of <!subteam^S0REVIEW>" in listed and "escalates to <@U0FRANK> after 24h" in listed
    posted = await world.request("cs-eng184 --policy quick")
    assert "Signed and submitted" in await sign(world, "U0DAVE", posted)
    unknown = await world.command("request cs-eng184 --policy nope", "U0ALICE")
    assert unknown is not None and "no signing policy “nope”" in (unknown.text or "") + str(
        unknown.blocks
    )


async def test_reassign_by_the_requester_and_refused_to_others(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    # Bob (the author) is away: Carol may not move his part, the requester may.
    refused = await world.command("reassign " + posted.id + " <@U0BOB> <@U0DAVE>", "U0CAROL")
    assert refused is not None and "Only" in (refused.text or "") + str(refused.blocks)
    answer = await world.command(
        f"reassign {posted.id} <@U0BOB|bob> <@U0DAVE> Bob is on leave until May", "U0ALICE"
    )
    assert answer is not None and "<@U0DAVE>" in str(answer.blocks)
    notes = thread(world, posted)
    assert "<@U0ALICE> reassigned <@U0BOB>'s signature" in notes and "on leave" in notes
    [entry] = [e for e in await world.audit() if e.action == "request.reassigned"]
    assert entry.reason == "Bob is on leave until May"
    assert "not your stage" in (await sign(world, "U0BOB", posted)) or "not a signer" in (
        await sign(world, "U0BOB", posted)
    )
    assert "waiting for *Review*" in await sign(world, "U0DAVE", posted)
    shown = message_text(world.message(posted))
    assert "*Author*: signed (1 of 1) · signed by Dave Diaz" in shown


async def test_a_stage_open_too_long_escalates_once(world: Requests) -> None:
    posted = await world.request("cs-eng184")
    await sign(world, "U0BOB", posted)
    await world.job(ESCALATIONS_JOB).run()
    assert "Escalation" not in thread(world, posted), "not before escalate_after"
    world.clock.advance(hours=24, seconds=1)
    await world.job(ESCALATIONS_JOB).run()
    await world.job(ESCALATIONS_JOB).run()
    notes = thread(world, posted)
    assert notes.count("Escalation") == 1, "once per stage"
    assert "<@U0FRANK>: please help" in notes and "“Review”" in notes
    assert "escalated to <@U0FRANK>" in dms(world, "U0ALICE")
    assert [e.action for e in await world.audit()].count("request.escalated") == 1


async def test_a_policy_file_with_mistakes_is_refused_at_start(
    tmp_path: Path, fake_slack: FakeSlack, redis_url: str
) -> None:
    bad = tmp_path / "policies.yml"
    bad.write_text(
        """
default: missing-one
policies:
  doc-control:
    stages:
      - name: Author
        meaning: I am the author
        signers: [U0BOB]
        required: 2
      - name: Review
        signers: ["@no-such-group"]
        escalate_after: soon
        escalate_to: [U0FRANK]
      - name: Author
        meaning: Again
        signers: [U0ERIN]
        colour: blue
      - name: Peers
        meaning: I reviewed them
        signers: ["@doc-reviewers"]
        required: 4
"""
    )
    add_groups(fake_slack)  # three members
    environ = bot_environment(fake_slack.api_url, redis_url, SIGNING_POLICIES=str(bad))
    # The fake Slack answers from this event loop, so the child is awaited, not waited for.
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "check",
        env={**os.environ, **environ},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, raw_err = await asyncio.wait_for(child.communicate(), timeout=120)
    assert child.returncode != 0
    err = raw_err.decode()
    assert "approvals-bot cannot start" in err and "Traceback" not in err
    for problem in (
        "policies.doc-control.stages[1].required: 2 is more than the 1 named signer",
        "policies.doc-control.stages[2].meaning: missing",
        "policies.doc-control.stages[2].signers: unknown user group handle @no-such-group",
        "policies.doc-control.stages[2].escalate_after: “soon” is not a duration",
        "policies.doc-control.stages[3].colour: unknown key",
        "policies.doc-control.stages[3].name: duplicate stage name “Author”",
        "default: “missing-one” is not one of the policies",
        "policies.doc-control.stages[4].required: 4 is more than the 3 people who can sign "
        "(the members of @doc-reviewers, as Slack lists them now)",
    ):
        assert problem in err, (problem, err)
