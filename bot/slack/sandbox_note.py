"""The "sandbox" note, added in one place to everything the bot says in Slack while it runs
against the built-in ApprovalFlow sandbox: what `SlackApi` sends, and what listeners answer in
their ack (a Bolt middleware gives them `NotedAck`). Builders never add it themselves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.blocks import Option, OptionGroup
from slack_sdk.models.views import View

from handlers.blocks.common import Block, context, section
from handlers.messages import SANDBOX_NOTE

NOTE_TEXT = f":test_tube: {SANDBOX_NOTE}"


def note_block() -> Block:
    return context(NOTE_TEXT)


def noted_blocks(text: str, blocks: Sequence[Block] | None) -> list[Block]:
    """A message's blocks with the note last (a text-only message becomes one section)."""
    shown = list(blocks) if blocks else [section(text)]
    return [*shown, note_block()]


def noted_view(view: dict[str, Any]) -> dict[str, Any]:
    """A modal or Home tab with the note as its last block."""
    return {**view, "blocks": [*(view.get("blocks") or []), note_block()]}


def noted_comment(comment: str) -> str:
    """A file's comment (files carry no blocks) with the note as its last line."""
    return f"{comment}\n{NOTE_TEXT}"


class NotedAck(AsyncAck):
    """Bolt's ack, adding the note to a message or view it answers with. A bare ack, and
    `errors` for a form, stay as they are."""

    def __init__(self) -> None:
        self.response = None  # all AsyncAck.__init__ does (it is untyped)

    async def __call__(
        self,
        text: str | dict[Any, Any] = "",
        blocks: Sequence[dict[Any, Any] | SdkBlock] | None = None,
        attachments: Sequence[dict[Any, Any] | Attachment] | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        response_type: str | None = None,
        options: Sequence[dict[Any, Any] | Option] | None = None,
        option_groups: Sequence[dict[Any, Any] | OptionGroup] | None = None,
        response_action: str | None = None,
        errors: dict[str, str] | None = None,
        view: dict[Any, Any] | View | None = None,
    ) -> BoltResponse:
        if isinstance(view, dict) and response_action in ("update", "push"):
            view = noted_view(view)
        elif isinstance(text, str) and (text or blocks) and response_action is None:
            as_dicts = [b if isinstance(b, dict) else b.to_dict() for b in blocks or []]
            blocks = noted_blocks(text, as_dicts)
        return await super().__call__(
            text=text,
            blocks=blocks,
            attachments=attachments,
            unfurl_links=unfurl_links,
            unfurl_media=unfurl_media,
            response_type=response_type,
            options=options,
            option_groups=option_groups,
            response_action=response_action,
            errors=errors,
            view=view,
        )


class NotedAcks(AsyncMiddleware):
    """Gives every request `NotedAck`. A class, not a function, so that Bolt does not build
    keyword arguments for it on every request."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        req.context["ack"] = NotedAck()
        return await next()


def note_acks(app: AsyncApp) -> None:
    """Every listener of `app` acks through `NotedAck`."""
    app.use(NotedAcks())
