"""The emulated workspace's state, the lock that guards it, and the helpers every part shares."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import string
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from emulators.clock import ClockLike, SystemClock
from emulators.slack.blockkit_limits import message_problems, view_problems
from emulators.slack.records import (
    DEFAULT_SCOPES,
    Call,
    FakeFile,
    FakeMessage,
    FakeUser,
    FakeUsergroup,
    FakeView,
    Fault,
    IssuedResponseUrl,
    JSONDict,
    ResponsePost,
    SlackFailure,
    StubHandler,
    Trigger,
)
from emulators.slack.wire import json_arg

ID_CHARS = string.ascii_uppercase + string.digits


class Workspace:
    """The workspace's state and the rules every part of the emulator applies to it."""

    trigger_ttl = timedelta(seconds=3)
    response_url_ttl = timedelta(minutes=30)
    response_url_max_uses = 5
    max_view_stack = 3

    def __init__(
        self,
        *,
        clock: ClockLike | None = None,
        team_id: str = "T0FAKETEAM",
        team_name: str = "Fake Team",
        bot_user_id: str = "U0FAKEBOT",
        bot_id: str = "B0FAKEBOT",
        app_id: str = "A0FAKEAPP",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        tokens: Iterable[str] | None = None,
    ) -> None:
        self.clock: ClockLike = clock or SystemClock()
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.scopes = list(scopes)
        # None: any xoxb- token is valid; otherwise only these.
        self.valid_tokens: set[str] | None = set(tokens) if tokens is not None else None
        self.revoked_tokens: set[str] = set()

        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.users: dict[str, FakeUser] = {}
        self.views: dict[str, FakeView] = {}
        self.files: dict[str, FakeFile] = {}
        self.response_posts: list[ResponsePost] = []

        self._channels: dict[str, dict[str, FakeMessage]] = {}
        self._ephemerals: list[FakeMessage] = []
        self._dm_ids: dict[str, str] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, Trigger] = {}
        self._response_urls: dict[str, IssuedResponseUrl] = {}
        self._upload_secrets: dict[str, str] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._latency: dict[str, float] = {}
        self._stubs: dict[str, JSONDict | StubHandler] = {}
        self._last_ts_us = 0
        # Slack's "about one message per second per channel" for chat.postMessage, enforced
        # when set (`enforce_post_rate`): a faster post answers 429 with Retry-After, and is
        # counted in `post_rate_limited`. Real time, not `clock`: it is the sender's pace.
        self.post_interval: float | None = None
        self.post_rate_limited = 0
        self._last_post: dict[str, float] = {}
        # The same for chat.update, per workspace (Tier 3): `enforce_update_rate`.
        self.update_interval: float | None = None
        self.update_rate_limited = 0
        self._last_update: float | None = None
        # Channel names and user groups the workspace knows (the playground seeds them).
        self.channel_names: dict[str, str] = {}
        # Of those, the ones the app was added to; posting elsewhere is not_in_channel. Channel
        # ids the workspace does not name are taken as channels the app is in.
        self.bot_channels: set[str] = set()
        self.usergroups: dict[str, FakeUsergroup] = {}
        # Bumped on every answered call: pages poll it to redraw only what changed.
        self.revision = 0
        self._on_change: list[Callable[[], None]] = []

        # Handlers run on the server's loop while tests may read or configure from another
        # thread (run_in_thread), so shared state changes under this lock.
        self._lock = threading.RLock()
        self._recorded = threading.Condition(self._lock)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeSlack is not started")
        return self._base_url

    @property
    def api_url(self) -> str:
        """For AsyncWebClient(base_url=...)."""
        return f"{self.base_url}/api/"

    def home_view(self, user_id: str) -> FakeView | None:
        view_id = self._homes.get(user_id)
        return self.views[view_id] if view_id else None

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every answered call (persistence, pages)."""
        self._on_change.append(listener)

    def touch(self) -> None:
        """State changed outside a Web API call (a person posted): bump and notify."""
        with self._lock:
            self.revision += 1
        for listener in self._on_change:
            listener()

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            self.revision += 1
            self._recorded.notify_all()
            waiters = list(self._waiters)
        for listener in self._on_change:
            listener()
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop already closed
                loop.call_soon_threadsafe(event.set)

    def _violation(self, where: str, problems: list[str]) -> None:
        self.violations.extend(f"{where}: {p}" for p in problems)

    # ---------------------------------------------------------------- state helpers

    def _next_ts(self) -> str:
        # Strictly increasing even when a test clock stands still.
        now_us = int(self.clock.now().timestamp() * 1_000_000)
        self._last_ts_us = max(self._last_ts_us + 1, now_us)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _new_hash(self) -> str:
        return f"{int(self.clock.now().timestamp())}.{secrets.token_hex(4)}"

    def _dm_for(self, user_id: str) -> str:
        if user_id not in self._dm_ids:
            self._dm_ids[user_id] = "D" + random_id(10)
        return self._dm_ids[user_id]

    def _resolve_channel(self, channel: str) -> str:
        # Posting to a user id posts into the app's DM with that user, as Slack does.
        return self._dm_for(channel) if channel[:1] in ("U", "W") else channel

    def _channel_arg(self, args: JSONDict, key: str = "channel") -> str:
        channel = args.get(key)
        if not isinstance(channel, str) or not channel:
            raise SlackFailure("channel_not_found")
        return self._resolve_channel(channel)

    def _member_channel_arg(self, args: JSONDict, key: str = "channel") -> str:
        """A channel the app may post in: Slack answers not_in_channel for a public channel
        the app was not added to (this app has no chat:write.public)."""
        channel = self._channel_arg(args, key)
        if channel in self.channel_names and channel not in self.bot_channels:
            raise SlackFailure("not_in_channel")
        return channel

    def _check_message(self, method: str, args: JSONDict) -> tuple[str, list[JSONDict] | None]:
        text = args.get("text")
        blocks = json_arg(args, "blocks")
        attachments = json_arg(args, "attachments")
        if not text and not blocks and not attachments:
            self._violation(method, ["a message needs text or blocks"])
            raise SlackFailure("no_text")
        problems = message_problems(
            text if isinstance(text, str) or text is None else str(text),
            blocks,
            attachments=attachments if isinstance(attachments, list) else None,
        )
        if problems:
            self._violation(method, problems)
            raise SlackFailure("invalid_blocks", response_metadata={"messages": problems})
        return (text if isinstance(text, str) else ""), blocks

    def _check_view(self, method: str, view: Any, expected_type: str | None) -> JSONDict:
        if not isinstance(view, dict):
            raise SlackFailure("invalid_arguments")
        problems = view_problems(view)
        if expected_type is not None and view.get("type") != expected_type:
            problems.append(f"view.type must be {expected_type} for {method}")
        if problems:
            self._violation(method, problems)
            raise SlackFailure("invalid_blocks", response_metadata={"messages": problems})
        return view

    def _take_trigger(self, args: JSONDict) -> Trigger:
        trigger = self._triggers.get(str(args.get("trigger_id", "")))
        if trigger is None:
            raise SlackFailure("invalid_trigger_id")
        if trigger.used:
            raise SlackFailure("exchanged_trigger_id")
        if self.clock.now() - trigger.issued_at > self.trigger_ttl:
            raise SlackFailure("expired_trigger_id")
        return trigger

    def _bot_message(self, channel: str, ts: Any, *, deleting: bool) -> FakeMessage:
        message = self._channels.get(channel, {}).get(str(ts))
        if message is None or message.deleted:
            raise SlackFailure("message_not_found")
        if message.user != self.bot_user_id:
            raise SlackFailure("cant_delete_message" if deleting else "cant_update_message")
        return message

    def _store_view(
        self, payload: JSONDict, user_id: str, *, root: str | None, previous: str | None
    ) -> FakeView:
        view_id = "V" + random_id(10)
        external_id = payload.get("external_id")
        if external_id is not None and any(
            v.external_id == external_id for v in self.views.values()
        ):
            raise SlackFailure("duplicate_external_id")
        view = FakeView(
            id=view_id,
            type=str(payload["type"]),
            user_id=user_id,
            hash=self._new_hash(),
            view={},
            root_view_id=root or view_id,
            previous_view_id=previous,
            external_id=external_id if isinstance(external_id, str) else None,
        )
        view.view = self._render_view(view, payload)
        self.views[view_id] = view
        return view

    def _render_view(self, view: FakeView, payload: JSONDict) -> JSONDict:
        return {
            "id": view.id,
            "team_id": self.team_id,
            "type": view.type,
            "blocks": payload.get("blocks", []),
            "private_metadata": payload.get("private_metadata", ""),
            "callback_id": payload.get("callback_id", ""),
            "state": {"values": {}},
            "hash": view.hash,
            "title": payload.get("title"),
            "close": payload.get("close"),
            "submit": payload.get("submit"),
            "clear_on_close": bool(payload.get("clear_on_close", False)),
            "notify_on_close": bool(payload.get("notify_on_close", False)),
            "external_id": view.external_id or "",
            "previous_view_id": view.previous_view_id,
            "root_view_id": view.root_view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _replace_view(self, view: FakeView, payload: JSONDict) -> None:
        view.versions.append(view.view)
        view.hash = self._new_hash()
        view.view = self._render_view(view, payload)


def random_id(length: int) -> str:
    return "".join(secrets.choice(ID_CHARS) for _ in range(length))
