"""App Home: publishes the Home tab when a user opens it."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.approval_token import token_status_section
from handlers.blocks.home import home_view
from handlers.deps import HandlerDeps
from handlers.linking import link_status_section
from handlers.requests import home_pending_section


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    # What waits for my signature first, then my link and Approval Token.
    sections = [
        home_pending_section(deps.requests),
        link_status_section(deps.linking),
        token_status_section(deps.tokens),
    ]

    @app.event("app_home_opened")
    async def publish_home(event: dict[str, Any], body: dict[str, Any]) -> None:
        # The same event fires for the Messages tab; only the Home tab is ours to draw.
        if event.get("tab") != "home":
            return
        user, team = str(event["user"]), str(body.get("team_id", ""))
        parts = await asyncio.gather(*(section(user, team) for section in sections))
        blocks = [block for part in parts for block in [{"type": "divider"}, *part]]
        await deps.slack.publish_home(user, home_view(blocks))
