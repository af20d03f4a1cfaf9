"""`/approvals`: split the text into a subcommand and arguments and hand it to its listener."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from handlers.blocks.help import help_blocks
from handlers.messages import unknown_subcommand
from handlers.ports import ResponseUrl, SlackSurfaces

MAX_TEXT = 2000  # Slack caps command text lower; a longer body is forged or broken.


@dataclass(frozen=True)
class SlashInput:
    """A slash command as our own type: nothing deeper sees Bolt's dict."""

    team_id: str
    user_id: str
    channel_id: str
    command: str
    text: str
    response_url: str
    trigger_id: str

    @classmethod
    def from_payload(cls, command: dict[str, Any]) -> SlashInput:
        return cls(
            team_id=str(command.get("team_id", "")),
            user_id=str(command.get("user_id", "")),
            channel_id=str(command.get("channel_id", "")),
            command=str(command.get("command", "/approvals")),
            text=str(command.get("text", ""))[:MAX_TEXT],
            response_url=str(command.get("response_url", "")),
            trigger_id=str(command.get("trigger_id", "")),
        )


@dataclass(frozen=True)
class SlashCall:
    """What a subcommand listener gets: its arguments and the means to answer."""

    input: SlashInput
    args: list[str]
    ack: AsyncAck
    respond: ResponseUrl


Subcommand = Callable[[SlashCall], Awaitable[None]]


# Slack sends mentions, channels, groups and links as `<…>` (the command escapes them): one word
# each, even when the label holds spaces or quotes; everything else splits on white space.
_WORD = re.compile(r"<[^<>]*>|[^\s<>]+|[<>]")


def split_text(text: str) -> list[str]:
    return _WORD.findall(text[:MAX_TEXT])


class SubcommandRouter:
    """Maps the first word of `/approvals …` to a listener; anything else gets help."""

    def __init__(self, slack: SlackSurfaces) -> None:
        self._routes: dict[str, Subcommand] = {}
        self._slack = slack

    def add(self, name: str, listener: Subcommand) -> None:
        if name in self._routes:
            raise ValueError(f"subcommand {name!r} registered twice")
        self._routes[name] = listener

    @property
    def names(self) -> list[str]:
        return sorted(self._routes)

    async def dispatch(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        slash = SlashInput.from_payload(command)
        words = split_text(slash.text)
        name = words[0].lower() if words else "help"
        listener = self._routes.get(name)
        if listener is None:
            await self.reply_help(ack, unknown_subcommand(words[0]))
            return
        url = command.get("response_url")
        respond = ResponseUrl(self._slack, url if isinstance(url, str) else None)
        await listener(SlashCall(slash, words[1:], ack, respond))

    async def reply_help(self, ack: AsyncAck, problem: str | None) -> None:
        # The ack itself is the answer: an ephemeral reply costs no Web API call.
        text, blocks = help_blocks(problem)
        await ack(text=text, blocks=blocks, response_type="ephemeral")
