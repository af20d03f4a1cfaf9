"""Slack lifecycle events over HTTP: a person deactivated, the app uninstalled, a request's
channel archived or left; each against the running bot, the Slack emulator and the sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.wiring import CHECK_PEOPLE_JOB, WATCHED_SPACES_JOB
from emulators.slack import FakeSlack
from services.approval_token.service import Condition
from tests.fakes.clock import FakeClock
from tests.scenario.requests_kit import Posted, Requests, requests_world, view_text


async def send_event(world: Requests, event: dict[str, Any], event_id: str) -> httpx.Response:
    body = {
        "type": "event_callback",
        "team_id": "T0TEAM",
        "api_app_id": "A0APP",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
    }
    response = await world.bot.post_signed(json.dumps(body), "application/json")
    assert response.status_code == 200, response.text
    return response


async def channel_event_dm(world: Requests, posted: Posted, kind: str, event_id: str) -> str:
    """Send a channel event for the request's channel; the DM the requester got about it."""
    await send_event(world, {"type": kind, "channel": posted.channel}, event_id)
    await world.slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.ok and c.args.get("channel") == "U0ALICE" and posted.id in str(c.args),
    )
    return world.slack.dm_messages("U0ALICE")[-1].text


async def test_a_deactivated_reviewer_loses_link_and_token_and_the_request_says_so(
    world: Requests,
) -> None:
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    container = world.bot.container
    assert (await container.tokens.status("U0BOB")).condition is Condition.ACTIVE

    # A profile change that is not a deactivation changes nothing.
    await send_event(
        world, {"type": "user_change", "user": {"id": "U0BOB", "deleted": False}}, "Ev1"
    )
    await send_event(
        world, {"type": "user_change", "user": {"id": "U0BOB", "deleted": True}}, "Ev2"
    )
    await world.slack.wait_for(
        "chat.postMessage", where=lambda c: c.ok and c.args.get("thread_ts") == posted.ts
    )
    assert (await container.tokens.status("U0BOB")).condition is Condition.REVOKED
    assert await container.linking.status("U0BOB") is None
    assert (await container.linking.status("U0ALICE")) is not None
    [note] = world.slack.replies(posted.channel, posted.ts)
    assert "<@U0BOB> was deactivated in Slack" in note.text
    actions = [(e.action, e.target) for e in await world.audit()]
    assert ("person.deactivated", "slack:U0BOB") in actions
    assert any(action == "token.revoked" and "U0BOB" in target for action, target in actions)

    # Their signature cannot be given any more: the form sends them to connect first.
    form = await world.click("U0BOB", posted.id, posted=posted)
    assert "connect" in view_text(form).lower()
    assert world.sandbox.calls_to("submit_change_set") == []


async def test_a_deactivation_no_event_told_of_is_found_by_the_check(world: Requests) -> None:
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    container = world.bot.container
    world.slack.users["U0BOB"].deleted = True  # deactivated in Slack; no event reaches the bot

    await world.job(CHECK_PEOPLE_JOB).run()
    looked_up = {c.args.get("user") for c in world.slack.calls_to("users.info")}
    assert {"U0ALICE", "U0BOB"} <= looked_up
    assert (await container.tokens.status("U0BOB")).condition is Condition.REVOKED
    assert await container.linking.status("U0BOB") is None
    assert (await container.tokens.status("U0ALICE")).condition is Condition.ACTIVE
    assert await container.linking.status("U0ALICE") is not None
    [note] = world.slack.replies(posted.channel, posted.ts)
    assert "<@U0BOB> was deactivated in Slack" in note.text

    # Checked again: nothing left to take away, so nothing said or audited twice.
    await world.job(CHECK_PEOPLE_JOB).run()
    assert len(world.slack.replies(posted.channel, posted.ts)) == 1
    actions = [(e.action, e.target) for e in await world.audit()]
    assert actions.count(("person.deactivated", "slack:U0BOB")) == 1
    form = await world.click("U0BOB", posted.id, posted=posted)
    assert "connect" in view_text(form).lower()
    assert world.sandbox.calls_to("submit_change_set") == []


async def test_a_look_up_that_finds_a_person_deactivated_deactivates_them(
    world: Requests,
) -> None:
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    container = world.bot.container
    world.slack.add_user("U0BOB", real_name="Bob Brown", is_admin=True, deleted=True)

    # An admin command looks its caller up (users.info): Slack says deactivated.
    answer = await world.command(f"watch 98301 <#{posted.channel}|docs>", "U0BOB")
    assert answer is not None and "Only Slack workspace admins" in (answer.text or "")
    assert (await container.tokens.status("U0BOB")).condition is Condition.REVOKED
    assert await container.linking.status("U0BOB") is None
    actions = [(e.action, e.target) for e in await world.audit()]
    assert ("person.deactivated", "slack:U0BOB") in actions
    assert any(action == "admin.refused" for action, _ in actions)
    await world.slack.wait_for(
        "chat.postMessage", where=lambda c: c.ok and c.args.get("thread_ts") == posted.ts
    )
    [note] = world.slack.replies(posted.channel, posted.ts)
    assert "<@U0BOB> was deactivated in Slack" in note.text


async def test_an_archived_channel_sends_the_requester_where_to_sign(world: Requests) -> None:
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    dm = await channel_event_dm(world, posted, "channel_archive", "Ev3")
    assert posted.id in dm and "was archived" in dm and "/approvals pending" in dm
    # The request is untouched: still signable from the command.
    form = await world.by_command("U0BOB", f"approve {posted.id}")
    assert "I approve submitting these 3 pages for review" in view_text(form)


async def test_the_bot_removed_from_a_channel_tells_the_requester(world: Requests) -> None:
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    dm = await channel_event_dm(world, posted, "channel_left", "Ev4")
    assert posted.id in dm and "I was removed from" in dm


async def test_an_uninstall_stops_the_jobs_from_posting(world: Requests) -> None:
    jobs = world.bot.container.jobs
    watched = world.job(WATCHED_SPACES_JOB)
    assert await jobs.run_once(watched)
    await jobs._leases.release(f"job:{watched.name}", jobs._owner)

    await send_event(world, {"type": "app_uninstalled"}, "Ev5")
    installation = world.bot.container.installation
    assert await installation.removed() == "app_uninstalled"
    assert not await jobs.run_once(watched)
    # A revoked user token (not ours) is no removal; ours was already recorded.
    await send_event(
        world, {"type": "tokens_revoked", "tokens": {"oauth": ["U0ALICE"], "bot": []}}, "Ev6"
    )
    assert await installation.removed() == "app_uninstalled"


async def test_a_revoked_bot_token_stops_the_jobs_too(world: Requests) -> None:
    await send_event(
        world, {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["B0BOT"]}}, "Ev7"
    )
    assert await world.bot.container.installation.removed() == "tokens_revoked"
    assert not await world.bot.container.jobs.run_once(world.job(WATCHED_SPACES_JOB))


# The check's pace and batch for the next test: small, so that three runs take a few seconds.
CHECK_PACE_SECONDS = 0.1
CHECK_BATCH = 10


@pytest.fixture
async def many_holders(
    fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock
) -> AsyncIterator[Requests]:
    env = {
        "SLACK_LOOKUP_INTERVAL_SECONDS": str(CHECK_PACE_SECONDS),
        "CHECK_PEOPLE_BATCH": str(CHECK_BATCH),
    }
    async with requests_world(fake_slack, redis_url, clock, **env) as world:
        await world.ready("U0ALICE", "U0BOB")
        for n in range(23):  # 25 holders in all: 23 started an enrolment, two are ready
            user = f"U1HOLD{n:02d}"
            fake_slack.add_user(user, real_name=f"Holder {n}", email=f"h{n}@example.com")
            await world.bot.container.tokens.start_enrolment(user, f"h{n}@example.com")
        yield world


async def test_the_check_of_many_holders_looks_up_a_paced_batch_per_run_in_turn(
    many_holders: Requests,
) -> None:
    world, slack = many_holders, many_holders.slack
    holders = sorted([f"U1HOLD{n:02d}" for n in range(23)] + ["U0ALICE", "U0BOB"])
    slack.users[holders[-1]].deleted = True  # the last in turn: found by the third run
    runs: list[list[str]] = []
    for _ in range(3):
        before = len(slack.calls_to("users.info"))
        started = time.monotonic()
        await world.job(CHECK_PEOPLE_JOB).run()
        took = time.monotonic() - started
        runs.append([str(c.args.get("user")) for c in slack.calls_to("users.info")[before:]])
        # A batch, paced: no run looks up more, none faster than Slack's rate for the job.
        assert len(runs[-1]) == CHECK_BATCH
        assert took >= (CHECK_BATCH - 1) * CHECK_PACE_SECONDS
    # In turn: each run goes on where the last stopped, and the third comes round again.
    assert runs[0] + runs[1] == holders[:20]
    assert runs[2] == holders[20:] + holders[:5]
    revoked = await world.bot.container.tokens.status(holders[-1])
    assert revoked.condition is Condition.REVOKED
    assert (await world.bot.container.tokens.status(holders[0])).condition is Condition.ACTIVE
