"""The playground's workspace file: what a person left is there after a restart, and a damaged
file is set aside rather than stopping the bot."""

from __future__ import annotations

from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from emulators.slack import FakeSlack
from emulators.slack.persist import load, save
from emulators.slack.playground.seed import seed_workspace

MODAL = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Form"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}],
}


async def test_people_messages_views_and_files_survive(tmp_path: Path) -> None:
    path = tmp_path / "playground.json"
    async with FakeSlack() as before:
        seed_workspace(before)
        client = AsyncWebClient(token="xoxb-t", base_url=before.api_url)
        posted = await client.chat_postMessage(channel="C0DOCS", text="kept")
        await client.chat_update(channel="C0DOCS", ts=posted["ts"], text="kept, edited")
        await client.views_open(trigger_id=before.new_trigger_id("U0BOB"), view=MODAL)
        await client.views_publish(
            user_id="U0BOB", view={"type": "home", "blocks": MODAL["blocks"]}
        )
        await client.files_upload_v2(channel="U0BOB", content=b"\x89PNG-bytes", filename="qr.png")
        save(before, path)

    after = FakeSlack()
    assert load(after, path)
    assert after.users["U0ADA"].is_admin and after.usergroups["S0DOCREV"].users == [
        "U0BOB",
        "U0CAROL",
    ]
    [message] = after.messages("C0DOCS")
    assert message.text == "kept, edited" and message.edited_ts
    assert [v.title for v in after.view_stack("U0BOB")] == ["Form"]
    assert after.home_view("U0BOB") is not None
    [file] = after.files.values()
    assert file.content == b"\x89PNG-bytes" and after.dm_messages("U0BOB")[0].files
    assert after.bot_channels == before.bot_channels and "C0RANDOM" not in after.bot_channels


def test_a_damaged_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "playground.json"
    path.write_text('{"format": 1, "users": [')
    assert not load(FakeSlack(), path)
    assert not path.exists() and (tmp_path / "playground.damaged.json").exists()
