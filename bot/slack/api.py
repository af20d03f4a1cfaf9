"""`SlackApi`: every Web API call the bot makes, each mapped into our errors in one place.

Callers above this module never see slack_sdk or aiohttp: a call either returns what it is for
or raises from services/errors.py (bot/slack/failures.py has the table). The jobs send through a
paced twin (`SlackApi.paced`): their posts to one channel and their message updates are spaced
(bot/slack/pacing.py) so a burst reaches Slack in order at the rate it accepts, whichever
process sends it. What answers a person is never queued behind that; a 429 it meets is waited
out by the client's retry handler (bot/slack/client.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.calls import JsonCalls
from bot.slack.client import SAFE_TO_REPEAT, TIMEOUT_SECONDS, retry_handlers
from bot.slack.failures import slack_errors
from bot.slack.pacing import Pacer
from bot.slack.sandbox_note import noted_blocks, noted_comment, noted_view
from handlers.ports import OpenedView
from services.errors import SlackRefused

log = logging.getLogger(__name__)

T = TypeVar("T")
Block = dict[str, Any]


def _sent(**fields: Any) -> dict[str, Any]:
    """A JSON call's arguments as slack_sdk's method would send them (those left None are not
    sent); ours are plain dicts already, never slack_sdk's block or view classes."""
    return {name: value for name, value in fields.items() if value is not None}


class SlackApi:
    """The Web API as the bot uses it. Calls with JSON arguments (messages, modals, the Home tab)
    are sent by `JsonCalls` on the client's session (bot/slack/calls.py), the others by slack_sdk;
    `quiet` uploads go through a client whose logger never logs bodies (the enrolment DM's QR
    carries a setup key). With a `pacer`, posts, message updates and look-ups wait their turn
    (see `paced`); without one they are sent at once. With `sandbox`, every message, view and
    file comment carries the sandbox note (bot/slack/sandbox_note.py)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        quiet: AsyncWebClient | None = None,
        pacer: Pacer | None = None,
        sandbox: bool = False,
    ) -> None:
        if client.session is None:
            raise ValueError("SlackApi needs a Web API client with an aiohttp session of its own")
        self._client = client
        self._quiet = quiet or client
        self._json = JsonCalls(client, client.session)
        self._pacer = pacer
        self._sandbox = sandbox

    def paced(self, pacer: Pacer) -> SlackApi:
        """The same clients, with posts, message updates and look-ups spaced by `pacer`: for
        the jobs, whose bursts (a watched space's new change sets, reminders, tracking, the
        check of everyone's account) would otherwise meet 429s."""
        return SlackApi(self._client, quiet=self._quiet, pacer=pacer, sandbox=self._sandbox)

    def _blocks(self, text: str, blocks: list[Block] | None) -> list[Block] | None:
        return noted_blocks(text, blocks) if self._sandbox else blocks

    def _view(self, view: dict[str, Any]) -> dict[str, Any]:
        return noted_view(view) if self._sandbox else view

    async def _call(self, method: str, call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        with slack_errors(method, repeatable=method in SAFE_TO_REPEAT):
            response = await call()
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _send(self, method: str, **arguments: Any) -> dict[str, Any]:
        """A method that takes JSON arguments (those left None are not sent)."""
        payload = _sent(**arguments)
        return await self._call(method, lambda: self._json.call(method, payload))

    # -- messages -----------------------------------------------------------------------------

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """chat.postMessage (a user id as the channel posts in the bot's DM); the new ts. Its
        body is never logged (JsonCalls), so a DM with a setup key needs nothing more."""
        blocks = self._blocks(text, blocks)

        async def post() -> dict[str, Any]:
            return await self._send(
                "chat.postMessage",
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )

        answer = await (self._pacer.post(channel, post) if self._pacer else post())
        return str(answer.get("ts", ""))

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: list[Block] | None = None
    ) -> None:
        blocks = self._blocks(text, blocks)

        async def update() -> dict[str, Any]:
            return await self._send("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

        await (self._pacer.update(update) if self._pacer else update())

    async def delete_message(self, channel: str, ts: str) -> None:
        await self._call("chat.delete", lambda: self._client.chat_delete(channel=channel, ts=ts))

    async def post_ephemeral(
        self, channel: str, user: str, text: str, blocks: list[Block] | None = None
    ) -> None:
        blocks = self._blocks(text, blocks)
        await self._send("chat.postEphemeral", channel=channel, user=user, text=text, blocks=blocks)

    async def respond(
        self,
        response_url: str,
        text: str,
        blocks: list[Block] | None = None,
        *,
        replace_original: bool = False,
    ) -> None:
        """An ephemeral reply through a command's or an action's response_url."""
        blocks = self._blocks(text, blocks)
        # The same retry handlers as the Web API: a 429 is waited out and sent again; a
        # connection failure is not (the URL names no method that is safe to repeat).
        hook = AsyncWebhookClient(
            response_url, timeout=TIMEOUT_SECONDS, retry_handlers=retry_handlers()
        )
        with slack_errors("response_url", repeatable=False):
            answer = await hook.send(
                text=text,
                blocks=blocks,
                response_type="ephemeral",
                replace_original=replace_original,
            )
        if answer.status_code != 200:
            raise SlackRefused(
                f"Slack response_url answered HTTP {answer.status_code}",
                error=str(answer.body or answer.status_code)[:64],
                method="response_url",
            )

    # -- DMs and files ------------------------------------------------------------------------

    async def open_dm(self, user: str) -> str:
        """The id of the bot's DM channel with the person."""
        answer = await self._call(
            "conversations.open", lambda: self._client.conversations_open(users=user)
        )
        return str((answer.get("channel") or {}).get("id", ""))

    async def upload_file(
        self,
        channel: str,
        content: bytes | str,
        *,
        filename: str,
        title: str,
        alt_txt: str | None = None,
        initial_comment: str | None = None,
        quiet: bool = False,
    ) -> str:
        """files_upload_v2 (its three steps) into a channel; the new file's id."""
        client = self._quiet if quiet else self._client
        extra: dict[str, Any] = {}
        if alt_txt is not None:
            extra["alt_txt"] = alt_txt
        if self._sandbox and initial_comment is not None:
            initial_comment = noted_comment(initial_comment)
        if initial_comment is not None:
            extra["initial_comment"] = initial_comment
        answer = await self._call(
            "files.uploadV2",
            lambda: client.files_upload_v2(
                channel=channel, content=content, filename=filename, title=title, **extra
            ),
        )
        return str((answer.get("file") or {}).get("id", ""))

    async def delete_file(self, file_id: str) -> None:
        await self._call("files.delete", lambda: self._client.files_delete(file=file_id))

    # -- modals and the Home tab --------------------------------------------------------------

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> OpenedView:
        view = self._view(view)
        answer = await self._send("views.open", trigger_id=trigger_id, view=view)
        opened = answer.get("view") or {}
        return OpenedView(str(opened.get("id", "")), str(opened.get("hash", "")))

    async def push_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        view = self._view(view)
        await self._send("views.push", trigger_id=trigger_id, view=view)

    async def update_view(
        self, view_id: str, view: dict[str, Any], view_hash: str | None = None
    ) -> None:
        """views.update; raises SlackGone when the modal was closed, SlackConflict when a newer
        update redrew it since `view_hash`."""
        view = self._view(view)
        await self._send("views.update", view=view, view_id=view_id, hash=view_hash or None)

    async def publish_home(self, user: str, view: dict[str, Any]) -> None:
        view = self._view(view)
        await self._send("views.publish", user_id=user, view=view)

    # -- people -------------------------------------------------------------------------------

    async def user_info(self, user: str) -> dict[str, Any]:
        async def look_up() -> dict[str, Any]:
            return await self._call("users.info", lambda: self._client.users_info(user=user))

        answer = await (self._pacer.look_up(look_up) if self._pacer else look_up())
        return dict(answer.get("user") or {})

    async def users_page(self, limit: int, cursor: str | None) -> dict[str, Any]:
        return await self._call(
            "users.list", lambda: self._client.users_list(limit=limit, cursor=cursor)
        )

    async def groups(self) -> list[Any]:
        answer = await self._call(
            "usergroups.list", lambda: self._client.usergroups_list(include_disabled=False)
        )
        return list(answer.get("usergroups") or [])

    async def group_members(self, group_id: str) -> list[Any]:
        answer = await self._call(
            "usergroups.users.list",
            lambda: self._client.usergroups_users_list(usergroup=group_id),
        )
        return list(answer.get("users") or [])
