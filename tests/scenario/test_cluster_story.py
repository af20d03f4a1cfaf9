"""The whole story on a Redis Cluster with two bot processes: connect, enrol, request, approve,
tracking, the tokens listing and audit verify, each step reached through one bot or the other."""

from __future__ import annotations

import asyncio

from bot.stores.client import RedisClient
from emulators.approvalflow.seed import BOB
from emulators.slack import FakeSlack
from services.audit.chain import verify
from testkit.redis_cluster import ThrowawayCluster
from tests.scenario.cluster_kit import enrol_over_slack, two_bots
from tests.scenario.requests_kit import message_text, view_text
from tests.scenario.test_cli import run_cli


async def test_two_processes_on_a_cluster_run_the_whole_story(
    fake_slack: FakeSlack, redis_cluster: ThrowawayCluster, cluster_redis: RedisClient
) -> None:
    async with two_bots(fake_slack, redis_cluster.url, POLL_INTERVAL_SECONDS="1") as bots:
        a, b = bots.a, bots.b
        # Connect: Alice through the bot in this process, Bob through the child process.
        await a.link("U0ALICE")
        await b.link("U0BOB")
        # Enrol: each from the DM's setup key, the code form answered by the other bot.
        await enrol_over_slack(b, "U0ALICE")
        await enrol_over_slack(a, "U0BOB")

        # Request through the child; the pending list (an index over every shard) from here.
        posted = await b.request("cs-eng184 <@U0BOB|bob>")
        pending = await a.command("pending", "U0BOB")
        assert pending is not None and posted.id in (pending.text or "") + str(pending.blocks)

        # Approve: the modal opened by one bot, the signed form submitted to the other.
        form = await a.click("U0BOB", posted.id, posted=posted)
        answer = await b.submit("U0BOB", form, code=b.code("U0BOB"), comment="LGTM")
        assert "Signed and submitted" in view_text(answer["view"])
        # A second submission of the same form, to the other bot, signs and submits nothing.
        again = await a.submit("U0BOB", form, code=a.code("U0BOB"))
        assert "You already approved" in view_text(again["view"])
        [submit] = a.sandbox.calls_to("submit_change_set")
        assert submit.account_id == BOB

        # Tracking: the child's own job runner follows the review (POLL_INTERVAL_SECONDS=1).
        for page in ("65601", "65602", "65603"):
            a.sandbox.approve_page(page, "carol@example.com")
        for _ in range(200):
            if "all pages approved" in message_text(a.message(posted)):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(message_text(a.message(posted)))

        # The admin's tokens listing, through the child: both people, both active.
        updates = len(fake_slack.calls_to("views.update"))
        assert await b.command("tokens", "U0ALICE", wait=False) is None
        await fake_slack.wait_for("views.update", count=updates + 1, timeout=10)
        listing = view_text(fake_slack.view_stack("U0ALICE")[-1])
        assert "Alice Anders" in listing and "Bob Baker" in listing, listing

        # The audit chain both processes appended to verifies, here and from the CLI.
        entries = [entry async for entry in a.bot.container.audit_log.entries()]
        head = await a.bot.container.audit_log.head()
        assert verify(entries, head, keys=a.bot.container.audit_keys).ok
        actions = [entry.action for entry in entries]
        assert actions.count("request.submit.succeeded") == 1
        code, out, _ = await run_cli("audit", "verify", env=bots.env)
        assert code == 0, out
        assert fake_slack.violations == []
