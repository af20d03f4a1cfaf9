"""`/approvals status`: one section per feature (the link first); a feature adds one function."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from handlers.blocks.common import Block
from handlers.blocks.status import status_message
from handlers.messages import NO_ARGUMENTS
from handlers.slash import SlashCall, SubcommandRouter

# Given the Slack user and team ids, a feature's blocks for the status message (and the Home).
StatusSection = Callable[[str, str], Awaitable[list[Block]]]


def register(router: SubcommandRouter, sections: Sequence[StatusSection]) -> None:
    async def status(call: SlashCall) -> None:
        if call.args:
            # Status is always your own; there is nobody else to ask about here.
            await call.ack(text=NO_ARGUMENTS.format(name="status"), response_type="ephemeral")
            return
        await call.ack()
        user, team = call.input.user_id, call.input.team_id
        parts = await asyncio.gather(*(section(user, team) for section in sections))
        text, blocks = status_message(list(parts))
        await call.respond(text=text, blocks=blocks, replace_original=False)

    router.add("status", status)
