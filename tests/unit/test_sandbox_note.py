"""The sandbox note is added in one place: to what SlackApi sends and to what listeners ack."""

from __future__ import annotations

import json

from bot.slack.sandbox_note import NOTE_TEXT, NotedAck, noted_blocks, noted_comment, noted_view
from emulators.slack.blockkit_limits import message_problems, view_problems
from handlers.blocks.common import section

MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": [section("x")]}


def test_a_message_gets_the_note_last_and_stays_valid() -> None:
    blocks = noted_blocks("hello", [section("hello")])
    assert blocks[0] == section("hello") and NOTE_TEXT in json.dumps(blocks[-1])
    assert message_problems("hello", blocks) == []
    # A text-only message becomes its text and the note.
    assert noted_blocks("just text", None) == [section("just text"), blocks[-1]]


def test_a_view_and_a_file_comment_get_the_note() -> None:
    view = noted_view(MODAL)
    assert view_problems(view) == [] and NOTE_TEXT in json.dumps(view["blocks"][-1])
    assert MODAL["blocks"] == [section("x")]  # the builder's view is left as it was
    assert noted_comment("Report attached").endswith(NOTE_TEXT)


async def test_an_ack_with_a_message_or_a_view_carries_the_note() -> None:
    ack = NotedAck()
    await ack(text="Unknown subcommand", response_type="ephemeral")
    assert ack.response is not None and NOTE_TEXT in str(ack.response.body)
    ack = NotedAck()
    await ack(response_action="update", view=MODAL)
    assert ack.response is not None and NOTE_TEXT in str(ack.response.body)


async def test_a_bare_ack_and_form_errors_stay_as_they_are() -> None:
    ack = NotedAck()
    await ack()
    assert ack.response is not None and ack.response.body == ""
    ack = NotedAck()
    await ack(response_action="errors", errors={"code": "Wrong code"})
    assert ack.response is not None and NOTE_TEXT not in str(ack.response.body)
