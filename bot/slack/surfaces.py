"""`SlackSurfaces` for the listeners: modals (the tolerant views.update lives here, once), the
Home tab, ephemeral replies (response_url ones too), files in a DM."""

from __future__ import annotations

import logging
from typing import Any

from bot.slack.api import SlackApi
from handlers.ports import OpenedView, ReplyTo
from services.errors import SlackConflict, SlackGone

log = logging.getLogger(__name__)


class SlackSurfacesAdapter:
    def __init__(self, api: SlackApi) -> None:
        self._api = api

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> OpenedView:
        return await self._api.open_view(trigger_id, view)

    async def push_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._api.push_view(trigger_id, view)

    async def update_view(
        self, view_id: str, view: dict[str, Any], view_hash: str | None = None
    ) -> bool:
        try:
            await self._api.update_view(view_id, view, view_hash)
        except (SlackGone, SlackConflict) as exc:
            # Closed by the person, or redrawn by a newer click: nothing left to show.
            log.info("modal not updated", extra={"view": view_id, "slack_error": exc.error})
            return False
        return True

    async def publish_home(self, user: str, view: dict[str, Any]) -> None:
        await self._api.publish_home(user, view)

    async def send_file(self, user: str, filename: str, content: str | bytes, comment: str) -> None:
        # files_upload_v2 needs a channel id, not a user id.
        channel = await self._api.open_dm(user)
        await self._api.upload_file(
            channel, content, filename=filename, title=filename, initial_comment=comment
        )

    async def respond(
        self,
        response_url: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        replace_original: bool = False,
    ) -> None:
        await self._api.respond(response_url, text, blocks, replace_original=replace_original)

    async def reply(self, where: ReplyTo, text: str) -> None:
        if where.response_url:
            await self._api.respond(where.response_url, text)
        elif where.channel and where.user:
            await self._api.post_ephemeral(where.channel, where.user, text)
        elif where.user:
            await self._api.post_message(where.user, text)
