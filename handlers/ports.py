"""What listeners send to Slack, as ports: the adapters are in bot/slack, injected by bot/wiring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from services.approval_token import Enrolment, QrMessage


@dataclass(frozen=True)
class OpenedView:
    """A modal Slack opened: its id and the hash an update must name."""

    view_id: str
    view_hash: str


@dataclass(frozen=True)
class ReplyTo:
    """Where a person who used the bot can be answered ephemerally: the response_url when Slack
    gave one, else the channel, else a DM."""

    user: str | None
    channel: str | None = None
    response_url: str | None = None


class SlackSurfaces(Protocol):
    """Modals, the Home tab, ephemeral replies and files in a DM."""

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> OpenedView: ...

    async def push_view(self, trigger_id: str, view: dict[str, Any]) -> None: ...

    async def update_view(
        self, view_id: str, view: dict[str, Any], view_hash: str | None = None
    ) -> bool:
        """views.update; False when the modal was closed or a newer update redrew it (what we had
        to say no longer matters), raising only for real failures."""
        ...

    async def publish_home(self, user: str, view: dict[str, Any]) -> None: ...

    async def send_file(self, user: str, filename: str, content: str | bytes, comment: str) -> None:
        """Upload a file into the bot's DM with the person."""
        ...

    async def respond(
        self,
        response_url: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        replace_original: bool = False,
    ) -> None:
        """An ephemeral reply through a response_url (a 429 waited out, never lost)."""
        ...

    async def reply(self, where: ReplyTo, text: str) -> None:
        """An ephemeral reply where the person is (see ReplyTo)."""
        ...


@dataclass(frozen=True)
class ResponseUrl:
    """Answers the person through the response_url Slack gave with their command or click,
    by the outbound adapter rather than Bolt's own `respond` (which neither waits out a 429
    nor says it failed)."""

    slack: SlackSurfaces
    url: str | None

    async def __call__(
        self,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        replace_original: bool = False,
    ) -> None:
        if not self.url:
            raise ValueError("no response_url to answer through")
        await self.slack.respond(self.url, text, blocks, replace_original=replace_original)


class EnrolmentSender(Protocol):
    """The enrolment DM (QR image, setup key, Enter code button) and token DMs."""

    async def send(self, enrolment: Enrolment, label: str) -> QrMessage: ...

    async def delete(self, qr: QrMessage) -> None: ...

    async def discard(self, qr: QrMessage, why: str) -> bool:
        """`delete`, logging a failure instead of raising; True when both are gone."""
        ...

    async def tell(self, user_id: str, text: str) -> None: ...


class TokenLostAlerts(Protocol):
    """The security channel told that someone reported their Approval Token's device lost."""

    async def token_lost(self, user: str, previous_state: str) -> None: ...
