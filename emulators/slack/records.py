"""What the emulated workspace holds and records: people, messages, views, files and calls."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

JSONDict = dict[str, Any]
StubHandler = Callable[[JSONDict], JSONDict]

DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "im:write",
    "files:write",
    "files:read",
    "users:read",
    "users:read.email",
)
DEFAULT_USER = "U0TESTUSER"
SLACKBOT = "USLACKBOT"  # Slack's own id for Slackbot


@dataclass
class Call:
    """One request the fake received, recorded after it was answered."""

    method: str
    args: JSONDict
    headers: dict[str, str]  # lower-cased names
    at: datetime
    http_method: str = "POST"
    status: int = 200
    response: JSONDict = field(default_factory=dict)
    peer: str = ""  # the client's end of the connection ("host:port"): tells connections apart

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return error if isinstance(error, str) else None


@dataclass
class FakeMessage:
    """A message in a channel (or an ephemeral one, when `ephemeral_user` is set)."""

    channel: str
    ts: str
    text: str
    blocks: list[JSONDict] | None
    user: str
    bot_id: str | None = None
    thread_ts: str | None = None
    attachments: list[JSONDict] | None = None
    files: list[JSONDict] = field(default_factory=list)
    ephemeral_user: str | None = None
    edited_ts: str | None = None
    deleted: bool = False
    args: JSONDict = field(default_factory=dict)  # everything the poster sent

    def to_api(self) -> JSONDict:
        out: JSONDict = {"type": "message", "ts": self.ts, "text": self.text, "user": self.user}
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.attachments:
            out["attachments"] = self.attachments
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.files:
            out["files"] = self.files
        if self.edited_ts:
            out["edited"] = {"user": self.user, "ts": self.edited_ts}
        return out


@dataclass
class FakeView:
    """A modal or Home tab, as Slack stores it; `hash` changes on every update."""

    id: str
    type: str
    user_id: str
    hash: str
    view: JSONDict  # the full object Slack would return
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None
    closed: bool = False
    versions: list[JSONDict] = field(default_factory=list)  # earlier `view` objects
    errors: dict[str, str] = field(default_factory=dict)  # block_id -> response_action error

    @property
    def blocks(self) -> list[JSONDict]:
        blocks = self.view.get("blocks")
        return blocks if isinstance(blocks, list) else []

    @property
    def callback_id(self) -> str:
        return str(self.view.get("callback_id", ""))

    @property
    def private_metadata(self) -> str:
        return str(self.view.get("private_metadata", ""))

    @property
    def title(self) -> str | None:
        title = self.view.get("title")
        return title.get("text") if isinstance(title, dict) else None


@dataclass
class FakeFile:
    """A file uploaded through the 3-step external upload."""

    id: str
    filename: str
    length: int
    user: str
    created: datetime
    url_private: str
    title: str = ""
    alt_txt: str | None = None
    content: bytes | None = None  # None until the bytes were posted to the upload URL
    completed: bool = False
    channels: list[str] = field(default_factory=list)
    shares: dict[str, str] = field(default_factory=dict)  # channel -> ts of the sharing message
    initial_comment: str | None = None
    deleted: bool = False

    @property
    def mimetype(self) -> str:
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"

    def to_api(self) -> JSONDict:
        by_kind: dict[str, list[str]] = {"channels": [], "groups": [], "ims": []}
        for channel in self.channels:
            kind = {"D": "ims", "G": "groups"}.get(channel[:1], "channels")
            by_kind[kind].append(channel)
        public = {c: [{"ts": ts}] for c, ts in self.shares.items() if c[:1] == "C"}
        private = {c: [{"ts": ts}] for c, ts in self.shares.items() if c[:1] != "C"}
        return {
            "id": self.id,
            "created": int(self.created.timestamp()),
            "timestamp": int(self.created.timestamp()),
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": self.mimetype,
            "filetype": self.filename.rsplit(".", 1)[-1] if "." in self.filename else "binary",
            "user": self.user,
            "size": len(self.content) if self.content is not None else self.length,
            "url_private": self.url_private,
            "url_private_download": self.url_private + "?download=1",
            "is_public": bool(public),
            "alt_txt": self.alt_txt,
            **by_kind,
            "shares": {"public": public, "private": private},
        }


@dataclass
class FakeUser:
    """A workspace member returned by users.info."""

    id: str
    name: str
    real_name: str
    email: str | None = None
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    is_restricted: bool = False
    deleted: bool = False
    tz: str = "Europe/London"

    def to_api(self, team_id: str, with_email: bool) -> JSONDict:
        profile: JSONDict = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
        }
        # Slack leaves the email out unless the app has users:read.email.
        if with_email and self.email is not None:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": _tz_offset(self.tz),
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": profile,
        }


@dataclass
class FakeUsergroup:
    """A user group (`<!subteam^S…|@handle>`) and its members, for usergroups.list and
    usergroups.users.list."""

    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)


@dataclass
class ResponsePost:
    """A JSON body posted to a response_url the fake issued."""

    url: str
    payload: JSONDict
    at: datetime
    channel: str | None
    user: str | None
    ok: bool = True

    @property
    def kind(self) -> str:
        """delete_original, replace_original, in_channel or ephemeral."""
        if truthy(self.payload.get("delete_original")):
            return "delete_original"
        if truthy(self.payload.get("replace_original")):
            return "replace_original"
        return "in_channel" if self.payload.get("response_type") == "in_channel" else "ephemeral"

    @property
    def text(self) -> str | None:
        text = self.payload.get("text")
        return text if isinstance(text, str) else None

    @property
    def blocks(self) -> list[JSONDict] | None:
        blocks = self.payload.get("blocks")
        return blocks if isinstance(blocks, list) else None


@dataclass
class Fault:
    error: str
    status: int = 200
    retry_after: int | None = None


@dataclass
class Trigger:
    user_id: str
    issued_at: datetime
    used: bool = False


@dataclass
class IssuedResponseUrl:
    channel: str | None
    user: str | None
    message_ts: str | None
    issued_at: datetime
    uses: int = 0


@dataclass
class Reply:
    body: JSONDict
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class SlackFailure(Exception):
    """Raised inside a method handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _tz_offset(tz: str) -> int:
    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):  # no tzdata here: UTC will do for a fake
        return 0
    return int(offset.total_seconds()) if offset else 0
