"""Slack answers 429: every method the bot uses waits for Retry-After and goes through once;
nothing lost, nothing doubled, nobody told to retry. The bot's own Slack adapter against the
Slack emulator, then whole flows over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.slack.api import SlackApi
from bot.slack.pacing import Pacer
from bot.wiring import CHECK_PEOPLE_JOB, WATCHED_SPACES_JOB
from emulators.approvalflow.seed import ALICE
from emulators.slack import FakeSlack
from tests.fakes.clock import FakeClock
from tests.scenario.harness import RunningBot, bot_environment, running_bot
from tests.scenario.requests_kit import Requests, message_text, requests_world, view_text

CHANNEL = "C0DOCS"
MODAL = {
    "type": "modal",
    "callback_id": "x",
    "title": {"type": "plain_text", "text": "Hello"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
}
HOME = {"type": "home", "blocks": MODAL["blocks"]}


@pytest.fixture
async def bot(fake_slack: FakeSlack, redis: object, redis_url: str) -> AsyncIterator[RunningBot]:
    fake_slack.add_user("U0ALICE", real_name="Alice Anders", email="alice@example.com")
    fake_slack.stub("usergroups.users.list", {"users": ["U0ALICE"]})
    async with running_bot(bot_environment(fake_slack.api_url, redis_url)) as running:
        yield running


Call = Callable[[SlackApi, FakeSlack], Awaitable[object]]


async def _update(api: SlackApi, slack: FakeSlack) -> None:
    ts = slack.calls_to("chat.postMessage")[-1].response["ts"]
    await api.update_message(CHANNEL, str(ts), "edited")


async def _delete(api: SlackApi, slack: FakeSlack) -> None:
    ts = slack.calls_to("chat.postMessage")[-1].response["ts"]
    await api.delete_message(CHANNEL, str(ts))


async def _view_update(api: SlackApi, slack: FakeSlack) -> None:
    opened = await api.open_view(slack.new_trigger_id("U0ALICE"), MODAL)
    await api.update_view(opened.view_id, MODAL, opened.view_hash)


async def _view_push(api: SlackApi, slack: FakeSlack) -> None:
    await api.open_view(slack.new_trigger_id("U0ALICE"), MODAL)
    await api.push_view(slack.new_trigger_id("U0ALICE"), MODAL)


async def _respond(api: SlackApi, slack: FakeSlack) -> None:
    await api.respond(slack.new_response_url(channel=CHANNEL, user="U0ALICE"), "noted")


async def _upload(api: SlackApi, slack: FakeSlack) -> None:
    channel = await api.open_dm("U0ALICE")
    await api.upload_file(channel, b"report", filename="r.csv", title="r.csv")


async def _file_delete(api: SlackApi, slack: FakeSlack) -> None:
    await _upload(api, slack)
    file_id = slack.calls_to("files.completeUploadExternal")[-1].response["files"][0]["id"]
    await api.delete_file(str(file_id))


# method rate-limited -> what makes the bot call it
CALLS: dict[str, Call] = {
    "chat.postMessage": lambda api, slack: api.post_message(CHANNEL, "hello"),
    "chat.update": _update,
    "chat.delete": _delete,
    "chat.postEphemeral": lambda api, slack: api.post_ephemeral(CHANNEL, "U0ALICE", "psst"),
    "conversations.open": lambda api, slack: api.open_dm("U0ALICE"),
    "views.open": lambda api, slack: api.open_view(slack.new_trigger_id("U0ALICE"), MODAL),
    "views.update": _view_update,
    "views.publish": lambda api, slack: api.publish_home("U0ALICE", HOME),
    "views.push": _view_push,
    "response_url": _respond,
    "files.getUploadURLExternal": _upload,
    "file_upload": _upload,
    "files.completeUploadExternal": _upload,
    "files.delete": _file_delete,
    "users.info": lambda api, slack: api.user_info("U0ALICE"),
    "users.list": lambda api, slack: api.users_page(200, None),
    "usergroups.users.list": lambda api, slack: api.group_members("S0GROUP"),
    "usergroups.list": lambda api, slack: api.groups(),
}


@pytest.mark.parametrize("method", sorted(CALLS))
async def test_each_method_waits_out_a_429_and_is_sent_once_more(
    bot: RunningBot, fake_slack: FakeSlack, method: str
) -> None:
    api = bot.container.slack_api
    if method in ("chat.update", "chat.delete"):
        await api.post_message(CHANNEL, "original")
    fake_slack.rate_limit_next(method, retry_after=0)
    await CALLS[method](api, fake_slack)
    statuses = [call.status for call in fake_slack.calls_to(method)]
    assert statuses[-2:] == [429, 200]
    assert statuses.count(200) == len(statuses) - 1  # the 429 was repeated once, not more
    assert fake_slack.violations == []


async def test_a_dm_is_opened_and_posted_through_429s_once(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    api = bot.container.slack_api
    fake_slack.rate_limit_next("conversations.open", retry_after=0)
    fake_slack.rate_limit_next("chat.postMessage", retry_after=0)
    channel = await api.open_dm("U0ALICE")
    ts = await api.post_message(channel, "in the DM")
    assert [m.ts for m in fake_slack.dm_messages("U0ALICE")] == [ts]
    for method in ("conversations.open", "chat.postMessage"):
        assert [c.status for c in fake_slack.calls_to(method)] == [429, 200], method


async def test_the_wait_is_slacks_retry_after(bot: RunningBot, fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1)
    started = time.monotonic()
    ts = await bot.container.slack_api.post_message(CHANNEL, "after the wait")
    assert time.monotonic() - started >= 1.0
    assert [m.ts for m in fake_slack.messages(CHANNEL)] == [ts]


# -- whole flows: a request posted, approved and submitted while Slack rate-limits ---------


FLOW_METHODS = ("chat.postMessage", "chat.update", "views.open", "views.update")


async def test_a_request_is_posted_signed_and_submitted_through_429s(
    world: Requests,
) -> None:
    slack = world.slack
    for method in FLOW_METHODS:
        slack.rate_limit_next(method, retry_after=0, times=2)
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    form = await world.click("U0BOB", posted.id, posted=posted)
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"), comment="LGTM")
    assert "Signed and submitted" in view_text(answer["view"])
    await slack.wait_for(
        "chat.postMessage", where=lambda c: c.ok and c.args.get("channel") == "U0ALICE"
    )

    assert len(world.sandbox.calls_to("submit_change_set")) == 1
    assert "Submitted* (3)" in message_text(world.message(posted))
    # One request message, one thread reply, one DM: nothing doubled by the retries.
    top_level = [m for m in slack.messages(posted.channel) if m.thread_ts is None]
    assert len(top_level) == 1
    assert len(slack.replies(posted.channel, posted.ts)) == 1
    for method in FLOW_METHODS:
        assert 429 in [c.status for c in slack.calls_to(method)], method
    # Nobody was told to retry: not in a reply, not in a DM, not in the modal.
    said = [p.text or "" for p in slack.response_posts]
    said += [m.text for m in slack.dm_messages("U0ALICE") + slack.dm_messages("U0BOB")]
    said += [view_text(answer["view"])]
    assert not any("try again" in text.lower() or "ratelimited" in text for text in said)
    assert slack.violations == []


async def test_a_command_reply_by_response_url_comes_through_a_429(world: Requests) -> None:
    slack = world.slack
    before = len(slack.calls_to("response_url"))
    slack.rate_limit_next("response_url", retry_after=0)
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    replies = slack.calls_to("response_url")[before:]
    assert [c.status for c in replies] == [429, 200]
    assert len([p for p in slack.response_posts if posted.id in (p.text or "")]) == 1
    assert not any("try again" in (p.text or "").lower() for p in slack.response_posts)
    assert len([m for m in slack.messages(posted.channel) if m.thread_ts is None]) == 1
    assert slack.violations == []


# A burst at Slack's own pace, the bot's and the emulator's defaults, is a few posts (a second
# each); the long burst runs both paces ten times faster, which shows the same order and the
# same absence of 429s without half a minute of waiting.
BURSTS = [pytest.param(None, 3, id="slacks-pace"), pytest.param(0.1, 30, id="tenfold-pace")]


@pytest.fixture
async def paced_world(
    pace: float | None, fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock
) -> AsyncIterator[Requests]:
    """A world whose jobs post at `pace` (a parameter of the test; None: the bot's default)."""
    env = {} if pace is None else {"SLACK_POST_INTERVAL_SECONDS": str(pace)}
    async with requests_world(fake_slack, redis_url, clock, **env) as world:
        await world.ready("U0ALICE", "U0BOB")
        yield world


@pytest.mark.parametrize(("pace", "count"), BURSTS)
async def test_a_burst_of_change_sets_posts_each_request_in_order_without_a_429(
    paced_world: Requests, pace: float | None, count: int
) -> None:
    world, slack = paced_world, paced_world.slack
    slack.add_user("U0ALICE", real_name="Alice Anders", email="alice@example.com", is_admin=True)
    done = await world.command("watch 98301 <#C0BURST|burst>", "U0ALICE")
    assert done is not None and "Watching space" in (done.text or "")
    titles = [f"Burst change set {n:02d}" for n in range(count)]
    for title in titles:
        world.sandbox.create_change_set(
            {"spaceId": "98301", "title": title, "pageRefs": [{"pageId": "65601"}]},
            account_id=ALICE,
        )
    if pace is None:
        slack.enforce_post_rate()  # Slack's pace: one message per second in a channel
    else:
        slack.enforce_post_rate(pace)
    await world.job(WATCHED_SPACES_JOB).run()

    posts = [c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == "C0BURST"]
    assert slack.post_rate_limited == 0 and all(c.ok for c in posts)
    shown = [t for c in posts for t in titles if t in str(c.args.get("text"))]
    assert shown == titles  # every one, each once, in the order the space listed them
    assert len([m for m in slack.messages("C0BURST") if m.thread_ts is None]) == count + 1


# The jobs' pace in the next test: long enough that a post waiting for its turn is still
# waiting when the test ends, so "not behind the burst" needs no timing to show.
@pytest.mark.parametrize("pace", [60.0])
async def test_a_signature_is_answered_without_waiting_behind_a_paced_burst(
    paced_world: Requests,
) -> None:
    world, slack = paced_world, paced_world.slack
    posted = await world.request("cs-eng184 <@U0BOB|bob>")
    slack.add_user("U0ALICE", real_name="Alice Anders", email="alice@example.com", is_admin=True)
    done = await world.command(f"watch 98301 <#{posted.channel}|docs>", "U0ALICE")
    assert done is not None and "Watching space" in (done.text or "")
    titles = [f"Burst change set {n:02d}" for n in range(3)]
    for title in titles:
        world.sandbox.create_change_set(
            # A page the approval below does not submit, so each stays worth posting.
            {"spaceId": "98301", "title": title, "pageRefs": [{"pageId": "65611"}]},
            account_id=ALICE,
        )

    def job_posts() -> list[str]:
        """The job's posts in the channel: new top-level messages since it started."""
        calls = slack.calls_to("chat.postMessage")[before:]
        return [
            str(c.args.get("text"))
            for c in calls
            if c.args.get("channel") == posted.channel and not c.args.get("thread_ts")
        ]

    before = len(slack.calls_to("chat.postMessage"))
    here = [
        c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == posted.channel
    ]

    async def run_the_job() -> None:
        await world.job(WATCHED_SPACES_JOB).run()

    burst = asyncio.create_task(run_the_job())
    try:
        # The job's first post went out (the space's change set already waiting); its next
        # one now waits a whole pace for its turn in this channel.
        await slack.wait_for(
            "chat.postMessage",
            count=len(here) + 1,
            where=lambda c: c.args.get("channel") == posted.channel,
        )
        form = await world.click("U0BOB", posted.id, posted=posted)
        answer = await world.submit("U0BOB", form, code=world.code("U0BOB"), comment="LGTM")
        assert "Signed and submitted" in view_text(answer["view"])
        await slack.wait_for(
            "chat.postMessage",
            where=lambda c: c.ok and c.args.get("thread_ts") == posted.ts,
        )
        # Answered in the same channel (the message rewritten, the thread reply, the DM)
        # while the burst is still waiting its turn there.
        assert "Submitted* (3)" in message_text(world.message(posted))
        assert len(slack.replies(posted.channel, posted.ts)) == 1
        await slack.wait_for(
            "chat.postMessage", where=lambda c: c.ok and c.args.get("channel") == "U0ALICE"
        )
        assert len(job_posts()) == 1  # the rest still wait their turn
        assert not burst.done()
    finally:
        burst.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await burst


# -- two bot processes' jobs on one store keep Slack's pace together -----------------------


# Fast paces, so a burst of each takes a few seconds. The fake enforces a third of the pace: both
# bots share this test's event loop, and on a busy 2-core machine a send can be held back by a
# few hundred ms, so it arrives close behind the next one, whose slot was already due.
TWO_PACE_SECONDS = 0.45
ENFORCED_SECONDS = 0.15


@pytest.fixture
async def two_bots(
    fake_slack: FakeSlack, redis: object, redis_url: str
) -> AsyncIterator[tuple[RunningBot, RunningBot]]:
    env = bot_environment(
        fake_slack.api_url,
        redis_url,
        SLACK_POST_INTERVAL_SECONDS=str(TWO_PACE_SECONDS),
        SLACK_UPDATE_INTERVAL_SECONDS=str(TWO_PACE_SECONDS),
    )
    async with running_bot(env) as one, running_bot(env) as two:
        yield one, two


def _texts(slack: FakeSlack, channel: str) -> list[str]:
    return [m.text for m in slack.messages(channel) if m.thread_ts is None]


async def test_two_processes_jobs_posts_share_one_pace_per_channel(
    two_bots: tuple[RunningBot, RunningBot], fake_slack: FakeSlack
) -> None:
    one, two = two_bots
    fake_slack.enforce_post_rate(ENFORCED_SECONDS)

    async def burst(api: SlackApi, name: str, channel: str) -> None:
        for n in range(4):
            await api.post_message(channel, f"{name} {n}")

    # Each process pacing alone: together they post too fast, and meet Slack's 429s.
    alone = [
        bot.container.slack_api.paced(Pacer(post_interval=TWO_PACE_SECONDS)) for bot in two_bots
    ]
    await asyncio.gather(burst(alone[0], "one", "C0ALONE"), burst(alone[1], "two", "C0ALONE"))
    assert fake_slack.post_rate_limited > 0

    limited = fake_slack.post_rate_limited
    await asyncio.gather(
        burst(one.container.job_slack, "one", "C0SHARED"),
        burst(two.container.job_slack, "two", "C0SHARED"),
        burst(one.container.job_slack, "one", "C0OTHER"),  # another channel: its own pace
    )
    assert fake_slack.post_rate_limited == limited
    shared = _texts(fake_slack, "C0SHARED")
    # Every post once, each process's in the order it asked.
    assert sorted(shared) == sorted([f"{name} {n}" for name in ("one", "two") for n in range(4)])
    for name in ("one", "two"):
        assert [t for t in shared if t.startswith(name)] == [f"{name} {n}" for n in range(4)]
    assert _texts(fake_slack, "C0OTHER") == [f"one {n}" for n in range(4)]


async def test_two_processes_jobs_updates_share_the_workspaces_pace(
    two_bots: tuple[RunningBot, RunningBot], fake_slack: FakeSlack
) -> None:
    one, two = two_bots
    channels = ("C0UPA", "C0UPB", "C0UPC")
    posted = {c: await one.container.slack_api.post_message(c, "v0") for c in channels}
    fake_slack.enforce_update_rate(ENFORCED_SECONDS)
    # Unpaced (as a person's answers are), two updates in a row meet Slack's limit.
    for channel in channels[:2]:
        await one.container.slack_api.update_message(channel, posted[channel], "v0 again")
    limited = fake_slack.update_rate_limited
    assert limited > 0
    fake_slack.enforce_update_rate(ENFORCED_SECONDS)  # the jobs start after a quiet spell

    async def edits(api: SlackApi) -> None:
        for version in (1, 2):
            for channel in channels:
                await api.update_message(channel, posted[channel], f"v{version}")

    await asyncio.gather(edits(one.container.job_slack), edits(two.container.job_slack))
    assert fake_slack.update_rate_limited == limited
    assert len([c for c in fake_slack.calls_to("chat.update") if c.ok]) == 2 + 12
    assert all(fake_slack.message(c, posted[c]).text == "v2" for c in channels)  # type: ignore[union-attr]


async def test_a_persons_update_is_not_paced_behind_the_jobs(
    two_bots: tuple[RunningBot, RunningBot], fake_slack: FakeSlack
) -> None:
    one, _ = two_bots
    ts = await one.container.slack_api.post_message(CHANNEL, "v0")
    job = one.container.job_slack
    await job.update_message(CHANNEL, ts, "by the job")  # the lane's next slot is a pace away
    waiting = asyncio.create_task(job.update_message(CHANNEL, ts, "by the job again"))
    await one.container.slack_api.update_message(CHANNEL, ts, "by a person's answer")
    await waiting
    texts = [c.args.get("text") for c in fake_slack.calls_to("chat.update")]
    assert texts == ["by the job", "by a person's answer", "by the job again"]


# -- what a workspace change says is paced like the jobs' posts -----------------------------


@pytest.fixture
async def fast_paced_world(
    fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock
) -> AsyncIterator[Requests]:
    """A world whose jobs post and update at a tenth of Slack's pace."""
    env = {"SLACK_POST_INTERVAL_SECONDS": "0.1", "SLACK_UPDATE_INTERVAL_SECONDS": "0.1"}
    async with requests_world(fake_slack, redis_url, clock, **env) as world:
        await world.ready("U0ALICE", "U0BOB")
        yield world


async def test_a_deactivated_signer_of_many_requests_is_told_on_each_without_a_429(
    fast_paced_world: Requests,
) -> None:
    world, slack = fast_paced_world, fast_paced_world.slack
    posted = []
    for n in range(8):
        change_set = world.sandbox.create_change_set(
            {"spaceId": "98301", "title": f"Offboarding {n}", "pageRefs": [{"pageId": "65601"}]},
            account_id=ALICE,
        )
        posted.append(await world.request(f"{change_set['changeSet']['id']} <@U0BOB|bob>"))
    slack.users["U0BOB"].deleted = True
    slack.enforce_post_rate(0.1)  # the bot's pace here, enforced as Slack would
    slack.enforce_update_rate(0.1)

    await world.job(CHECK_PEOPLE_JOB).run()
    assert slack.post_rate_limited == 0 and slack.update_rate_limited == 0
    for request in posted:  # each told once, in its own thread
        [note] = slack.replies(request.channel, request.ts)
        assert "<@U0BOB> was deactivated in Slack" in note.text
