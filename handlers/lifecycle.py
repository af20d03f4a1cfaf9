"""Slack lifecycle events: the app removed, a person deactivated, a channel closed to the bot."""

from __future__ import annotations

from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp

# Each event and the scope Slack needs to send it (manifest.yml names both).
CHANNEL_EVENTS = {
    "channel_archive": "archived",  # channels:read
    "group_archive": "archived",  # groups:read
    "channel_left": "removed",  # the bot was removed from a public channel
    "group_left": "removed",  # ... or from a private one
    "channel_deleted": "deleted",
    "group_deleted": "deleted",
}
LIFECYCLE_EVENTS = ["app_uninstalled", "tokens_revoked", "user_change", *CHANNEL_EVENTS]


class WorkspaceEvents(Protocol):
    """What the events mean to the bot (services/workspace.py)."""

    async def person_deactivated(self, user: str) -> None: ...

    async def channel_closed(self, channel: str, why: str) -> int: ...

    async def app_removed(self, reason: str) -> None: ...


def deactivated_user(event: dict[str, Any]) -> str | None:
    """The id of a person a `user_change` event says was deactivated; None otherwise."""
    user = event.get("user")
    if not isinstance(user, dict) or user.get("deleted") is not True:
        return None
    user_id = user.get("id")
    return user_id if isinstance(user_id, str) and user_id else None


def revokes_bot_token(event: dict[str, Any]) -> bool:
    """tokens_revoked lists user ids under `oauth` and bot ids under `bot`: ours is a bot token."""
    tokens = event.get("tokens")
    return isinstance(tokens, dict) and bool(tokens.get("bot"))


def closed_channel(event: dict[str, Any]) -> str | None:
    channel = event.get("channel")
    if isinstance(channel, dict):  # channel_deleted sends an id; some send an object
        channel = channel.get("id")
    return channel if isinstance(channel, str) and channel else None


def register(app: AsyncApp, events: WorkspaceEvents) -> None:
    @app.event("app_uninstalled")
    async def uninstalled() -> None:
        await events.app_removed("app_uninstalled")

    @app.event("tokens_revoked")
    async def revoked(event: dict[str, Any]) -> None:
        if revokes_bot_token(event):
            await events.app_removed("tokens_revoked")

    @app.event("user_change")
    async def user_changed(event: dict[str, Any]) -> None:
        user = deactivated_user(event)
        if user is not None:
            await events.person_deactivated(user)

    for name, why in CHANNEL_EVENTS.items():
        app.event(name)(_channel_listener(events, why))


def _channel_listener(events: WorkspaceEvents, why: str) -> Any:
    async def channel_changed(event: dict[str, Any]) -> None:
        channel = closed_channel(event)
        if channel is not None:
            await events.channel_closed(channel, why)

    return channel_changed
