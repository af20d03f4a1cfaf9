"""`/approvals help`."""

from __future__ import annotations

from handlers.slash import SlashCall, SubcommandRouter


def register(router: SubcommandRouter) -> None:
    async def show_help(call: SlashCall) -> None:
        problem = (
            f"`help` takes no arguments (you gave `{' '.join(call.args)}`)." if call.args else None
        )
        await router.reply_help(call.ack, problem)

    router.add("help", show_help)
