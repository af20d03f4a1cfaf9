"""App Home: publishes the Home tab when a user opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.home import home_view
from handlers.deps import HandlerDeps


def register(app: AsyncApp, deps: HandlerDeps) -> None:
    @app.event("app_home_opened")
    async def publish_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        # The same event fires for the Messages tab; only the Home tab is ours to draw.
        if event.get("tab") != "home":
            return
        await client.views_publish(user_id=str(event["user"]), view=home_view([], deps.sandbox))
