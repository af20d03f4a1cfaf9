"""Evidence scenarios shared by the tests and docs/evidence_sample.py: a request signed and
reviewed in the sandbox, and the report fetched from the caller's DM as Slack delivers it."""

from __future__ import annotations

from bot.wiring import TRACK_REVIEWS_JOB
from emulators.slack import FakeFile
from handlers.blocks.requests import EVIDENCE_ACTION
from tests.scenario.requests_kit import TEAM, Posted, Requests

COMMENT = "Checked against PR-184; Ünïcode ok"


async def delivered(world: Requests, user: str, before: int) -> FakeFile:
    """The file the bot uploaded to `user`'s DM after `before` uploads."""
    await world.slack.wait_for("files.completeUploadExternal", count=before + 1, timeout=20)
    dm = world.slack.dm_channel_id(user)
    *_, file = [f for f in world.slack.files.values() if dm in f.channels and f.completed]
    assert file.content is not None and file.filename.endswith(".pdf")
    return file


def uploads(world: Requests) -> int:
    return len(world.slack.calls_to("files.completeUploadExternal"))


async def by_command(world: Requests, user: str, request_id: str) -> FakeFile:
    before = uploads(world)
    answer = await world.command(f"evidence {request_id}", user)
    assert answer is not None and "Making the evidence report" in (answer.text or "")
    return await delivered(world, user, before)


async def by_button(world: Requests, user: str, posted: Posted) -> FakeFile:
    before = uploads(world)
    url = world.slack.new_response_url(channel=posted.channel, user=user)
    response = await world.bot.interact(
        {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0APP",
            "trigger_id": world.slack.new_trigger_id(user),
            "response_url": url,
            "container": {
                "type": "message",
                "channel_id": posted.channel,
                "message_ts": posted.ts,
            },
            "actions": [
                {
                    "type": "button",
                    "action_id": EVIDENCE_ACTION,
                    "block_id": f"evidence:{posted.id}",
                    "value": posted.id,
                    "action_ts": "1.0",
                }
            ],
        }
    )
    assert response.status_code == 200
    file = await delivered(world, user, before)
    sent = await world.slack.response_post(url)
    assert "is in your DM" in (sent.text or "")
    return file


async def approved_and_reviewed(world: Requests) -> Posted:
    posted = await world.request("cs-eng184 <@U0BOB>")
    form = await world.click("U0BOB", posted.id, posted=posted)
    await world.submit("U0BOB", form, code=world.code("U0BOB"), comment=COMMENT)
    await reviewed(world)
    return posted


async def reviewed(world: Requests) -> None:
    """Carol approves change set PR-184's pages in ApprovalFlow, one, then the other two, while
    the bot tracks the review."""
    track = world.job(TRACK_REVIEWS_JOB)
    world.clock.advance(minutes=2)
    await track.run()
    world.sandbox.approve_page("65601", "carol@example.com")
    world.clock.advance(minutes=5)
    await track.run()
    for page in ("65602", "65603"):
        world.sandbox.approve_page(page, "carol@example.com")
    world.clock.advance(minutes=20)
    await track.run()
