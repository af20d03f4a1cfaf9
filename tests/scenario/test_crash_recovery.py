"""A bot process killed mid-submit: `approvals-bot serve` is SIGKILLed while ApprovalFlow holds
back the answer to a submit it already did; the restarted process settles the request as
submitted within 30 s, with one submit call in all and the channel message updated in place."""

from __future__ import annotations

import asyncio
import time

from bot.wiring import RECOVER_SUBMITS_JOB
from emulators.slack import FakeSlack
from services.requests.model import Status
from tests.scenario.cluster_kit import child_bot, two_bots
from tests.scenario.requests_kit import PEOPLE, Requests, message_text

LEASE_SECONDS = "3"  # SUBMIT_LEASE_SECONDS: renewed every second, recovered every second


async def enrol(world: Requests, user: str) -> None:
    tokens = world.bot.container.tokens
    enrolment = await tokens.start_enrolment(user, PEOPLE[user][1])
    world.secrets[user] = enrolment.setup_key
    await tokens.activate(user, world.code(user), enrolment.enrolment_id)


def told(slack: FakeSlack, request_id: str) -> bool:
    """Whether the requester had the DM that says the request was approved and submitted."""
    return any(
        request_id in m.text and "was approved by Bob Baker" in m.text
        for m in slack.dm_messages("U0ALICE")
    )


async def test_a_bot_killed_mid_submit_is_settled_as_submitted_after_a_restart(
    fake_slack: FakeSlack, redis: object, redis_url: str
) -> None:
    # Bot A, served in this process, runs no jobs: it serves the sandbox (ApprovalFlow, which
    # outlives the killed bot) and opens the form. B, the child process, signs and is killed.
    async with two_bots(fake_slack, redis_url, SUBMIT_LEASE_SECONDS=LEASE_SECONDS) as bots:
        a, b = bots.a, bots.b
        # The recovery job the child runs too (A builds the same jobs, but never starts them).
        assert a.job(RECOVER_SUBMITS_JOB).interval_seconds == 1
        sandbox = a.sandbox
        requests = a.bot.container.requests
        await a.link("U0ALICE")
        await a.link("U0BOB")
        await enrol(a, "U0BOB")
        posted = await a.request("cs-eng184 <@U0BOB|bob>")
        form = await a.click("U0BOB", posted.id, posted=posted)

        # ApprovalFlow does the submit and holds back its answer until released.
        sandbox.inject_fault("submit_change_set", status=None, hang_seconds=120)
        signing = asyncio.create_task(b.submit("U0BOB", form, code=b.code("U0BOB")))
        try:
            for _ in range(1500):
                if sandbox.calls_to("submit_change_set") or signing.done():
                    break
                await asyncio.sleep(0.01)
            assert sandbox.calls_to("submit_change_set"), bots.child.output()
            bots.child.proc.kill()  # SIGKILL: no finally, no shutdown, nothing renews the claim
            await asyncio.wait_for(bots.child.proc.wait(), 10)
            await asyncio.gather(signing, return_exceptions=True)  # its connection died too
            assert (await requests.get(posted.id)).status is Status.SUBMITTING

            restarted = time.monotonic()
            async with child_bot(bots.env, bots.child.log.parent) as again:
                try:
                    for _ in range(600):
                        settled = await requests.get(posted.id)
                        if settled.status is not Status.SUBMITTING:
                            break
                        await asyncio.sleep(0.05)
                    took = time.monotonic() - restarted
                    # Settled first, then told: the requester's DM is the last thing said.
                    for _ in range(200):
                        if told(fake_slack, posted.id):
                            break
                        await asyncio.sleep(0.05)
                finally:
                    again.proc.kill()  # done with it: no need to wait out a graceful stop
                    await asyncio.wait_for(again.proc.wait(), 10)
                assert settled.status is Status.SUBMITTED, again.output()
        finally:
            sandbox.release_held()

        print(f"\nsettled {took:.1f} s after the restart")
        assert took <= 30, f"settled {took:.1f} s after the restart"
        assert [o.submitted for o in settled.outcomes] == [True, True, True]
        assert len(sandbox.calls_to("submit_change_set")) == 1, "one submit call in all"
        actions = [entry.action for entry in await a.audit()]
        assert actions.count("request.submit.recovered") == 1
        assert "request.submit.succeeded" not in actions
        # The request's one channel message, rewritten in place, and the reply in its thread.
        text = message_text(a.message(posted))
        assert "Submitted* (3)" in text and "Bob Baker" in text, text
        assert a.message(posted).edited_ts is not None
        mentions = [m for m in fake_slack.messages(posted.channel) if posted.id in (m.text or "")]
        assert len(mentions) == 1, [m.text for m in mentions]
        replies = fake_slack.replies(posted.channel, posted.ts)
        assert any("Bob Baker approved this" in r.text for r in replies)
        assert told(fake_slack, posted.id)
