"""Modals and the Home tab as Slack handles them for the playground: what an app's answer to a
submission does to the stack, and the Home tab published when a person opens it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from emulators.slack import FakeSlack
from tests.playground.test_playground_mode import as_person
from tests.scenario.harness import RunningBot

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "c",
    "title": {"type": "plain_text", "text": "Form"},
    "submit": {"type": "plain_text", "text": "Go"},
    "blocks": [
        {
            "type": "input",
            "block_id": "name",
            "label": {"type": "plain_text", "text": "Name"},
            "element": {"type": "plain_text_input", "action_id": "name"},
        }
    ],
}


async def opened(slack: FakeSlack, client: AsyncWebClient, user: str = "U1") -> str:
    answer = await client.views_open(trigger_id=slack.new_trigger_id(user), view=MODAL)
    return str(answer["view"]["id"])


async def test_an_answer_to_a_submission_does_what_slack_does(fake_slack: FakeSlack) -> None:
    client = AsyncWebClient(token="xoxb-t", base_url=fake_slack.api_url)
    view_id = await opened(fake_slack, client)
    fake_slack.apply_submission(view_id, {"response_action": "errors", "errors": {"name": "No"}})
    [shown] = fake_slack.view_stack("U1")
    assert shown.errors == {"name": "No"}

    fake_slack.apply_submission(view_id, {"response_action": "push", "view": MODAL})
    assert len(fake_slack.view_stack("U1")) == 2
    fake_slack.apply_submission(
        view_id,
        {
            "response_action": "update",
            "view": {**MODAL, "title": {"type": "plain_text", "text": "New"}},
        },
    )
    assert fake_slack.views[view_id].title == "New" and fake_slack.views[view_id].errors == {}
    fake_slack.apply_submission(view_id, {"response_action": "clear"})
    assert fake_slack.view_stack("U1") == []

    # An empty answer closes the submitted view and those above it; an invalid one is refused
    # and recorded, as Slack refuses it.
    second = await opened(fake_slack, client)
    fake_slack.apply_submission(second, {"response_action": "update", "view": {"type": "modal"}})
    assert fake_slack.violations and fake_slack.view_stack("U1")[0].id == second
    fake_slack.apply_submission(second, {})
    assert fake_slack.view_stack("U1") == []


async def test_opening_the_home_tab_gets_the_apps_home(playground_bot: RunningBot) -> None:
    playground = playground_bot.container.playground
    assert playground is not None
    async with as_person(playground_bot, "U0DAVE") as dave:
        page = await dave.get("/", params={"tab": "home"})
        assert page.status_code == 200
        deadline = time.monotonic() + 10
        while playground.slack.home_view("U0DAVE") is None:
            assert time.monotonic() < deadline, "the bot never published a Home tab"
            await asyncio.sleep(0.1)
        [event] = [c for c in playground.slack.calls_to("views.publish")]
        assert event.args["user_id"] == "U0DAVE"
        home = await dave.get("/home", params={"v": "none"})
        assert home.status_code == 200 and 'id="home"' in home.text
        assert "/approvals" in home.text or "Approval" in home.text
        key = home.text.split("/home?v=", 1)[1].split('"', 1)[0]
        assert (await dave.get("/home", params={"v": key})).status_code == 204
