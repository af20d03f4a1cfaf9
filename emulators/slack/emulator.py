"""A stateful fake of the Slack Web API: a real aiohttp server on 127.0.0.1 that tests inspect."""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import secrets
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from emulators.clock import ClockLike, SystemClock
from emulators.slack.blockkit_limits import message_problems, view_problems

JSONDict = dict[str, Any]
Handler = Callable[["FakeSlack", JSONDict], "_Reply"]
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
# Arguments that arrive as JSON strings when sent as form or query parameters.
_JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata")
_ID_CHARS = string.ascii_uppercase + string.digits


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
        if _truthy(self.payload.get("delete_original")):
            return "delete_original"
        if _truthy(self.payload.get("replace_original")):
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
class _Fault:
    error: str
    status: int = 200
    retry_after: int | None = None


@dataclass
class _Trigger:
    user_id: str
    issued_at: datetime
    used: bool = False


@dataclass
class _ResponseUrl:
    channel: str | None
    user: str | None
    message_ts: str | None
    issued_at: datetime
    uses: int = 0


@dataclass
class _Reply:
    body: JSONDict
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class SlackFailure(Exception):
    """Raised inside a method handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class FakeSlack:
    """The Slack Web API, response_urls and upload URLs, kept in memory and recorded.

    Point `AsyncWebClient(base_url=slack.api_url)` at it. Every method answers HTTP 200 with
    `{"ok": ...}` unless a 429 or another status was injected. Every Block Kit payload is
    validated; problems are answered `invalid_blocks` and appended to `violations`.

    Posts to upload URLs and response_urls are recorded as the pseudo-methods `file_upload`
    and `response_url`; fail_next and set_latency accept those names too.
    """

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
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._upload_secrets: dict[str, str] = {}
        self._faults: dict[str, deque[_Fault]] = {}
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

        self._server: _Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._base_url: str | None = None

    # ---------------------------------------------------------------- lifecycle

    def routes(self) -> list[Route]:
        """The Web API at /api/{method}, upload URLs, file downloads and response_urls."""
        return [
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/upload/v1/{file_id}/{secret}", self._upload, methods=["POST"]),
            Route("/files-pri/{file_id}/{name}", self._download, methods=["GET"]),
            Route("/response/{token}", self._response_url, methods=["POST"]),
        ]

    def mount_at(self, base_url: str) -> FakeSlack:
        """Served by someone else's web app under `base_url` (the bot's playground)."""
        self._base_url = base_url.rstrip("/")
        return self

    async def start(self) -> FakeSlack:
        """Serve on 127.0.0.1 with an ephemeral port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            lifespan="off",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        self._serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if self._serving.done():
                self._serving.result()  # raises what stopped it
            await asyncio.sleep(0.005)
        self._server = server
        self._base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        self._server = self._serving = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[FakeSlack]:
        """Serve from a background thread with its own event loop (benchmarks, subprocesses)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def boot() -> None:
            try:
                await self.start()
            except BaseException as exc:  # surfaced in the calling thread below
                failure.append(exc)
            finally:
                ready.set()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(boot())
            loop.run_forever()

        thread = threading.Thread(target=serve, name="fake-slack", daemon=True)
        thread.start()
        ready.wait(10)
        try:
            if failure:
                raise failure[0]
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeSlack is not started")
        return self._base_url

    @property
    def api_url(self) -> str:
        """For AsyncWebClient(base_url=...)."""
        return f"{self.base_url}/api/"

    # ---------------------------------------------------------------- test setup

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        tz: str = "Europe/London",
        is_bot: bool = False,
        is_restricted: bool = False,
        deleted: bool = False,
    ) -> FakeUser:
        user = FakeUser(
            id=user_id,
            name=name or user_id.lower(),
            real_name=real_name or name or user_id,
            email=email,
            is_admin=is_admin or is_owner,  # owners are admins in Slack too
            is_owner=is_owner,
            is_bot=is_bot,
            is_restricted=is_restricted,
            deleted=deleted,
            tz=tz,
        )
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, *, bot_member: bool = True) -> None:
        """A public channel; without `bot_member` the app may not post in it."""
        with self._lock:
            self.channel_names[channel_id] = name
            if bot_member:
                self.bot_channels.add(channel_id)
            else:
                self.bot_channels.discard(channel_id)

    def add_user_message(
        self, channel: str, text: str, *, user: str = DEFAULT_USER, thread_ts: str | None = None
    ) -> str:
        """A message a person posted, which the bot can neither update nor delete."""
        with self._lock:
            channel = self._resolve_channel(channel)
            message = FakeMessage(channel, self._next_ts(), text, None, user, thread_ts=thread_ts)
            self._channels.setdefault(channel, {})[message.ts] = message
        return message.ts

    def new_trigger_id(self, user_id: str = DEFAULT_USER) -> str:
        """A trigger_id as Slack puts in an interaction: single use, valid for `trigger_ttl`."""
        trigger_id = (
            f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        )
        with self._lock:
            self._triggers[trigger_id] = _Trigger(user_id, self.clock.now())
        return trigger_id

    def new_response_url(
        self,
        *,
        channel: str | None = None,
        user: str | None = DEFAULT_USER,
        message_ts: str | None = None,
    ) -> str:
        """An absolute response_url; `message_ts` names the original for replace/delete."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._response_urls[token] = _ResponseUrl(channel, user, message_ts, self.clock.now())
        return f"{self.base_url}/response/{token}"

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.revoked_tokens.add(token)

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self, method: str, error: str = "internal_error", *, times: int = 1, status: int = 200
    ) -> None:
        """The next `times` calls to `method` answer `{"ok": false, "error": error}`."""
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(_Fault(error, status) for _ in range(times))

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls to `method` answer HTTP 429 with Retry-After."""
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(_Fault("ratelimited", 429, retry_after) for _ in range(times))

    def enforce_post_rate(self, interval: float | None = 1.0) -> None:
        """Answer 429 (Retry-After: 1) to a chat.postMessage that comes less than `interval`
        seconds after the previous one in the same channel; None stops enforcing."""
        with self._lock:
            self.post_interval = interval
            self._last_post.clear()

    def enforce_update_rate(self, interval: float | None = 1.2) -> None:
        """Answer 429 (Retry-After: 1) to a chat.update that comes less than `interval` seconds
        after the previous one in the workspace; None stops enforcing."""
        with self._lock:
            self.update_interval = interval
            self._last_update = None

    def set_latency(self, method: str | None, seconds: float) -> None:
        """Delay answers to `method` (None: every method) by `seconds`."""
        with self._lock:
            self._latency["*" if method is None else method] = seconds

    def stub(self, method: str, response: JSONDict | StubHandler) -> None:
        """Answer a method the fake does not model with a fixed body or fn(args) -> body."""
        with self._lock:
            self._stubs[method] = response

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency.clear()

    # ---------------------------------------------------------------- inspection

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' API; asyncio.timeout is used inside
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until `count` calls to `method` (matching `where`) were answered; return them."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._waiters.append(waiter)
        found: list[Call] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    # Clear before looking, so a call recorded after the look still wakes us.
                    event.clear()
                    found = self._matching(method, where)
                    if len(found) >= count:
                        return found
                    await event.wait()
        except TimeoutError:
            raise AssertionError(self._timeout_message(method, count, timeout, found)) from None
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    def wait_for_sync(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Blocking wait_for, for code outside the server's loop (run_in_thread)."""
        with self._recorded:
            done = self._recorded.wait_for(
                lambda: len(self._matching(method, where)) >= count, timeout
            )
            found = self._matching(method, where)
        if not done:
            raise AssertionError(self._timeout_message(method, count, timeout, found))
        return found

    def messages(self, channel: str, *, include_deleted: bool = False) -> list[FakeMessage]:
        """Messages in a channel (thread replies included), oldest first; `U…` means the DM."""
        with self._lock:
            stored = self._channels.get(self._dm_ids.get(channel, channel), {})
            return [
                m for m in sorted(stored.values(), key=_ts_key) if include_deleted or not m.deleted
            ]

    def replies(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        return [m for m in self.messages(channel) if m.thread_ts == thread_ts and m.ts != thread_ts]

    def message(self, channel: str, ts: str) -> FakeMessage | None:
        with self._lock:
            return self._channels.get(self._dm_ids.get(channel, channel), {}).get(ts)

    def dm_channel_id(self, user_id: str) -> str | None:
        return self._dm_ids.get(user_id)

    def dm_messages(self, user_id: str) -> list[FakeMessage]:
        """Messages in the bot's DM with the user (empty if none was opened)."""
        channel = self._dm_ids.get(user_id)
        return self.messages(channel) if channel else []

    def ephemerals(
        self, *, channel: str | None = None, user: str | None = None
    ) -> list[FakeMessage]:
        with self._lock:
            return [
                m
                for m in self._ephemerals
                if (channel is None or m.channel == channel)
                and (user is None or m.ephemeral_user == user)
            ]

    def view_stack(self, user_id: str) -> list[FakeView]:
        """The user's open modals, root first."""
        with self._lock:
            return [self.views[v] for v in self._stacks.get(user_id, [])]

    def home_view(self, user_id: str) -> FakeView | None:
        view_id = self._homes.get(user_id)
        return self.views[view_id] if view_id else None

    def close_view(self, view_id: str) -> None:
        """The user closed a modal (or acked a submission): it and the views above it close."""
        with self._lock:
            view = self.views[view_id]
            stack = self._stacks.get(view.user_id, [])
            if view_id in stack:
                for closed in stack[stack.index(view_id) :]:
                    self.views[closed].closed = True
                del stack[stack.index(view_id) :]
            view.closed = True

    def dm_for(self, user_id: str) -> str:
        """The app's DM with the person, opened on first use as Slack opens it."""
        with self._lock:
            return self._dm_for(user_id)

    def apply_ack(self, channel: str, user: str, payload: JSONDict) -> None:
        """A slash command's ack carried a message: Slack shows it to the person (ephemeral
        unless `response_type` is in_channel)."""
        with self._lock:
            problems = message_problems(
                payload.get("text") if isinstance(payload.get("text"), str) else None,
                _json_arg(payload, "blocks"),
            )
            if problems:
                self._violation("command ack", problems)
                payload = {"text": "The app answered with a message Slack could not show."}
            issued = _ResponseUrl(channel, user, None, self.clock.now())
            self._apply_response(ResponsePost("", payload, issued.issued_at, channel, user), issued)
        self.touch()

    def slackbot_says(self, channel: str, user: str, text: str) -> None:
        """Slack itself tells the person something (an unknown command, an app that failed),
        as Slackbot, only to them."""
        with self._lock:
            message = FakeMessage(
                channel, self._next_ts(), text, None, SLACKBOT, ephemeral_user=user
            )
            self._ephemerals.append(message)
        self.touch()

    def apply_submission(self, view_id: str, answer: JSONDict) -> None:
        """Apply the app's answer to a view_submission, as Slack does."""
        with self._lock, contextlib.suppress(SlackFailure):  # recorded in violations
            view = self.views[view_id]
            action = answer.get("response_action")
            if action == "errors":
                errors = answer.get("errors")
                view.errors = (
                    {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}
                )
            elif action == "update":
                payload = self._check_view("response_action update", answer.get("view"), "modal")
                view.errors = {}
                _replace_view(self, view, payload)
            elif action == "push":
                payload = self._check_view("response_action push", answer.get("view"), "modal")
                stack = self._stacks.setdefault(view.user_id, [])
                pushed = self._store_view(
                    payload, view.user_id, root=stack[0] if stack else None, previous=view.id
                )
                stack.append(pushed.id)
            elif action == "clear":
                stack = self._stacks.get(view.user_id, [])
                if stack:
                    self.close_view(stack[0])
            else:
                self.close_view(view_id)
        self.touch()

    # ---------------------------------------------------------------- HTTP plumbing

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        at = self.clock.now()
        try:
            args = await _merged_args(request)
        except ValueError:
            reply = _Reply({"ok": False, "error": "invalid_json"})
            args = {}
        else:
            reply = await self._answer(method, args, request)
        self._record(
            Call(
                method,
                args,
                _headers(request),
                at,
                request.method,
                reply.status,
                reply.body,
                peer=_peer(request),
            )
        )
        headers = {"x-oauth-scopes": ",".join(self.scopes), **reply.headers}
        return JSONResponse(reply.body, status_code=reply.status, headers=headers)

    async def _answer(self, method: str, args: JSONDict, request: Request) -> _Reply:
        latency = self._latency.get(method, self._latency.get("*", 0.0))
        if latency:
            await asyncio.sleep(latency)
        fault = self._take_fault(method)
        if fault is not None:
            return _fault_reply(fault)
        auth_error = self._auth_error(request, args)
        if auth_error:
            return _Reply({"ok": False, "error": auth_error})
        handler = _METHODS.get(method)
        stub = self._stubs.get(method)
        try:
            if stub is not None:
                body = stub(args) if callable(stub) else dict(stub)
                return _Reply({"ok": True, **body})
            if handler is None:
                return _Reply({"ok": False, "error": "unknown_method"})
            with self._lock:
                return handler(self, args)
        except SlackFailure as failure:
            return _Reply({"ok": False, "error": failure.error, **failure.extra})

    def _auth_error(self, request: Request, args: JSONDict) -> str | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header else str(args.get("token", ""))
        if not token:
            return "not_authed"
        if token in self.revoked_tokens:
            return "token_revoked"
        if self.valid_tokens is not None:
            return None if token in self.valid_tokens else "invalid_auth"
        return None if token.startswith("xoxb-") else "invalid_auth"

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

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

    def _matching(self, method: str, where: Callable[[Call], bool] | None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (where is None or where(c))]

    def _timeout_message(self, method: str, count: int, timeout: float, found: list[Call]) -> str:
        seen = [c.method for c in self.calls]
        return (
            f"waited {timeout}s for {count} call(s) to {method}, got {len(found)}; "
            f"calls so far: {seen}"
        )

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
            self._dm_ids[user_id] = "D" + _random_id(10)
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
        blocks = _json_arg(args, "blocks")
        attachments = _json_arg(args, "attachments")
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

    def _take_trigger(self, args: JSONDict) -> _Trigger:
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
        view_id = "V" + _random_id(10)
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

    # ---------------------------------------------------------------- non-API endpoints

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        body = await request.body()
        at = self.clock.now()
        fault = self._take_fault("file_upload")
        with self._lock:
            file = self.files.get(file_id)
            valid = (
                file is not None
                and self._upload_secrets.get(file_id) == request.path_params["secret"]
            )
            if file is not None and valid and fault is None:
                file.content = body
        status = fault.status if fault else 200 if valid else 404
        args = {"file_id": file_id, "length": len(body)}
        self._record(Call("file_upload", args, _headers(request), at, "POST", status))
        if status != 200:
            reason = fault.error if fault else "upload URL not found"
            return PlainTextResponse(reason, status_code=status)
        # Slack answers the upload URL in plain text; the SDK only looks at the status.
        return PlainTextResponse(f"OK - {len(body)}")

    async def _download(self, request: Request) -> Response:
        if self._auth_error(request, {}):
            return PlainTextResponse("not authorized", status_code=401)
        file = self.files.get(request.path_params["file_id"])
        if file is None or file.deleted or file.content is None:
            return PlainTextResponse("file not found", status_code=404)
        return Response(file.content, media_type=file.mimetype)

    async def _response_url(self, request: Request) -> Response:
        token = request.path_params["token"]
        at = self.clock.now()
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        url = str(request.url)
        latency = self._latency.get("response_url", self._latency.get("*", 0.0))
        if latency:
            await asyncio.sleep(latency)
        fault = self._take_fault("response_url")
        if fault is not None:
            reply = _fault_reply(fault)
        elif not isinstance(payload, dict):
            reply = _Reply({"ok": False, "error": "invalid_payload"}, status=400)
        else:
            with self._lock:
                reply = self._respond(token, url, payload, at)
        self._record(
            Call(
                "response_url",
                payload if isinstance(payload, dict) else {},
                _headers(request),
                at,
                "POST",
                reply.status,
                reply.body,
            )
        )
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

    def _respond(self, token: str, url: str, payload: JSONDict, at: datetime) -> _Reply:
        issued = self._response_urls.get(token)
        if issued is None:
            return _Reply({"ok": False, "error": "no_active_hooks"}, status=404)
        if at - issued.issued_at > self.response_url_ttl:
            return _Reply({"ok": False, "error": "expired_url"}, status=404)
        if issued.uses >= self.response_url_max_uses:
            return _Reply({"ok": False, "error": "used_url"}, status=404)
        post = ResponsePost(url, payload, at, issued.channel, issued.user)
        if post.kind != "delete_original":
            problems = message_problems(
                post.text if "text" in payload else None,
                _json_arg(payload, "blocks"),
                attachments=_json_arg(payload, "attachments"),
            )
            if problems:
                self._violation("response_url", problems)
                post.ok = False
                self.response_posts.append(post)
                return _Reply({"ok": False, "error": "invalid_blocks"})
        issued.uses += 1
        self.response_posts.append(post)
        self._apply_response(post, issued)
        return _Reply({"ok": True})

    def _apply_response(self, post: ResponsePost, issued: _ResponseUrl) -> None:
        channel = issued.channel
        original = self._channels.get(channel or "", {}).get(issued.message_ts or "")
        if post.kind == "delete_original":
            if original is not None:
                original.deleted = True
        elif post.kind == "replace_original":
            if original is not None:
                original.text = post.text or ""
                original.blocks = post.blocks
                original.edited_ts = self._next_ts()
        elif channel is not None:
            message = FakeMessage(
                channel,
                self._next_ts(),
                post.text or "",
                post.blocks,
                self.bot_user_id,
                bot_id=self.bot_id,
                thread_ts=post.payload.get("thread_ts"),
                args=post.payload,
            )
            if post.kind == "in_channel":
                self._channels.setdefault(channel, {})[message.ts] = message
            else:
                message.ephemeral_user = issued.user
                self._ephemerals.append(message)


# -------------------------------------------------------------------- Web API methods
# Each takes the merged arguments and returns the reply; raising SlackFailure answers an error.
# They are synchronous because they run under FakeSlack._lock, a threading lock.


def _auth_test(slack: FakeSlack, args: JSONDict) -> _Reply:
    return _Reply(
        {
            "ok": True,
            "url": f"https://{slack.team_name.lower().replace(' ', '-')}.slack.com/",
            "team": slack.team_name,
            "user": "approvals",
            "team_id": slack.team_id,
            "user_id": slack.bot_user_id,
            "bot_id": slack.bot_id,
            "is_enterprise_install": False,
        }
    )


def _chat_post_message(slack: FakeSlack, args: JSONDict) -> _Reply:
    channel = slack._member_channel_arg(args)
    text, blocks = slack._check_message("chat.postMessage", args)
    if slack.post_interval is not None:
        now = time.monotonic()
        last = slack._last_post.get(channel)
        if last is not None and now - last < slack.post_interval:
            slack.post_rate_limited += 1
            return _Reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "1"})
        slack._last_post[channel] = now
    thread_ts = args.get("thread_ts") or None
    message = FakeMessage(
        channel,
        slack._next_ts(),
        text,
        blocks,
        slack.bot_user_id,
        bot_id=slack.bot_id,
        thread_ts=str(thread_ts) if thread_ts else None,
        attachments=_json_arg(args, "attachments"),
        args=args,
    )
    slack._channels.setdefault(channel, {})[message.ts] = message
    return _Reply({"ok": True, "channel": channel, "ts": message.ts, "message": message.to_api()})


def _chat_post_ephemeral(slack: FakeSlack, args: JSONDict) -> _Reply:
    channel = slack._channel_arg(args)
    user = args.get("user")
    if not isinstance(user, str) or not user:
        raise SlackFailure("user_not_in_channel")
    text, blocks = slack._check_message("chat.postEphemeral", args)
    message = FakeMessage(
        channel,
        slack._next_ts(),
        text,
        blocks,
        slack.bot_user_id,
        bot_id=slack.bot_id,
        thread_ts=args.get("thread_ts") or None,
        ephemeral_user=user,
        args=args,
    )
    slack._ephemerals.append(message)
    return _Reply({"ok": True, "message_ts": message.ts})


def _chat_update(slack: FakeSlack, args: JSONDict) -> _Reply:
    channel = slack._channel_arg(args)
    message = slack._bot_message(channel, args.get("ts"), deleting=False)
    text, blocks = slack._check_message("chat.update", args)
    if slack.update_interval is not None:
        now = time.monotonic()
        last = slack._last_update
        if last is not None and now - last < slack.update_interval:
            slack.update_rate_limited += 1
            return _Reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "1"})
        slack._last_update = now
    message.text = text
    if "blocks" in args:
        message.blocks = blocks
    message.edited_ts = slack._next_ts()
    message.args = {**message.args, **args}
    return _Reply(
        {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": text,
            "message": message.to_api(),
        }
    )


def _chat_delete(slack: FakeSlack, args: JSONDict) -> _Reply:
    channel = slack._channel_arg(args)
    message = slack._bot_message(channel, args.get("ts"), deleting=True)
    message.deleted = True
    return _Reply({"ok": True, "channel": channel, "ts": message.ts})


def _conversations_open(slack: FakeSlack, args: JSONDict) -> _Reply:
    users = args.get("users")
    if isinstance(users, list):
        users = ",".join(str(u) for u in users)
    if not users:
        channel = args.get("channel")
        if not channel:
            raise SlackFailure("users_list_not_supplied")
        return _Reply({"ok": True, "channel": {"id": channel}})
    ids = [u.strip() for u in str(users).split(",") if u.strip()]
    if len(ids) == 1:
        already = ids[0] in slack._dm_ids
        channel_id = slack._dm_for(ids[0])
        body: JSONDict = {"id": channel_id, "is_im": True, "user": ids[0]}
    else:
        # A group DM: one stable id per set of members.
        key = ",".join(sorted(ids))
        already = key in slack._dm_ids
        channel_id = slack._dm_ids.setdefault(key, "G" + _random_id(10))
        body = {"id": channel_id, "is_mpim": True}
    reply: JSONDict = {"ok": True, "channel": body}
    if already:
        reply.update(no_op=True, already_open=True)
    return _Reply(reply)


def _views_open(slack: FakeSlack, args: JSONDict) -> _Reply:
    payload = slack._check_view("views.open", _json_arg(args, "view"), "modal")
    trigger = slack._take_trigger(args)
    view = slack._store_view(payload, trigger.user_id, root=None, previous=None)
    trigger.used = True
    for old in slack._stacks.get(trigger.user_id, []):
        slack.views[old].closed = True
    slack._stacks[trigger.user_id] = [view.id]
    return _Reply({"ok": True, "view": view.view})


def _views_push(slack: FakeSlack, args: JSONDict) -> _Reply:
    payload = slack._check_view("views.push", _json_arg(args, "view"), "modal")
    trigger = slack._take_trigger(args)
    stack = slack._stacks.setdefault(trigger.user_id, [])
    if len(stack) >= slack.max_view_stack:
        raise SlackFailure("push_limit_reached")
    root = stack[0] if stack else None
    previous = stack[-1] if stack else None
    view = slack._store_view(payload, trigger.user_id, root=root, previous=previous)
    trigger.used = True
    stack.append(view.id)
    return _Reply({"ok": True, "view": view.view})


def _views_update(slack: FakeSlack, args: JSONDict) -> _Reply:
    view_id, external_id = args.get("view_id"), args.get("external_id")
    if view_id:
        view = slack.views.get(str(view_id))
    elif external_id:
        view = next((v for v in slack.views.values() if v.external_id == external_id), None)
    else:
        raise SlackFailure("invalid_arguments")
    if view is None or view.closed:
        raise SlackFailure("not_found")
    payload = slack._check_view("views.update", _json_arg(args, "view"), view.type)
    _check_hash(view, args)
    _replace_view(slack, view, payload)
    return _Reply({"ok": True, "view": view.view})


def _views_publish(slack: FakeSlack, args: JSONDict) -> _Reply:
    user_id = args.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise SlackFailure("invalid_arguments")
    payload = slack._check_view("views.publish", _json_arg(args, "view"), "home")
    existing = slack.home_view(user_id)
    if existing is None:
        view = slack._store_view(payload, user_id, root=None, previous=None)
        slack._homes[user_id] = view.id
    else:
        _check_hash(existing, args)
        view = existing
        _replace_view(slack, view, payload)
    return _Reply({"ok": True, "view": view.view})


def _check_hash(view: FakeView, args: JSONDict) -> None:
    given = args.get("hash")
    if given and given != view.hash:
        raise SlackFailure("hash_conflict")


def _replace_view(slack: FakeSlack, view: FakeView, payload: JSONDict) -> None:
    view.versions.append(view.view)
    view.hash = slack._new_hash()
    view.view = slack._render_view(view, payload)


def _files_get_upload_url(slack: FakeSlack, args: JSONDict) -> _Reply:
    filename = args.get("filename")
    length = args.get("length")
    if not filename or length is None:
        raise SlackFailure("invalid_arguments")
    try:
        size = int(length)
    except (TypeError, ValueError):
        raise SlackFailure("invalid_arguments") from None
    file_id = "F" + _random_id(10)
    secret = secrets.token_urlsafe(12)
    slack._upload_secrets[file_id] = secret
    slack.files[file_id] = FakeFile(
        id=file_id,
        filename=str(filename),
        length=size,
        user=slack.bot_user_id,
        created=slack.clock.now(),
        url_private=f"{slack.base_url}/files-pri/{file_id}/{quote(str(filename))}",
        alt_txt=args.get("alt_txt"),
    )
    return _Reply(
        {
            "ok": True,
            "upload_url": f"{slack.base_url}/upload/v1/{file_id}/{secret}",
            "file_id": file_id,
        }
    )


def _files_complete_upload(slack: FakeSlack, args: JSONDict) -> _Reply:
    items = _json_arg(args, "files")
    if not isinstance(items, list) or not items:
        raise SlackFailure("invalid_arguments")
    files: list[FakeFile] = []
    for item in items:
        file = slack.files.get(str(item.get("id"))) if isinstance(item, dict) else None
        # Bytes never posted to the upload URL: Slack has no file to complete.
        if file is None or file.content is None or file.deleted:
            raise SlackFailure("file_not_found")
        file.title = str(item.get("title") or file.filename)
        files.append(file)
    channels: list[str] = []
    if args.get("channel_id"):
        channels.append(slack._member_channel_arg(args, "channel_id"))
    elif args.get("channels"):
        raw = args["channels"]
        names = raw if isinstance(raw, list) else str(raw).split(",")
        channels += [slack._resolve_channel(str(c).strip()) for c in names if str(c).strip()]
    comment = args.get("initial_comment")
    thread_ts = args.get("thread_ts") or None
    for file in files:
        file.completed = True
        file.initial_comment = comment
    for channel in channels:
        # One message per channel carries all the files, as Slack shares them.
        message = FakeMessage(
            channel,
            slack._next_ts(),
            str(comment or ""),
            None,
            slack.bot_user_id,
            bot_id=slack.bot_id,
            thread_ts=thread_ts,
            args=args,
        )
        for file in files:
            file.channels.append(channel)
            file.shares[channel] = message.ts
        message.files = [f.to_api() for f in files]
        slack._channels.setdefault(channel, {})[message.ts] = message
    return _Reply({"ok": True, "files": [f.to_api() for f in files]})


def _file_arg(slack: FakeSlack, args: JSONDict) -> FakeFile:
    file = slack.files.get(str(args.get("file", "")))
    if file is None or not file.completed:
        raise SlackFailure("file_not_found")
    if file.deleted:
        raise SlackFailure("file_deleted")
    return file


def _files_info(slack: FakeSlack, args: JSONDict) -> _Reply:
    file = _file_arg(slack, args)
    return _Reply(
        {
            "ok": True,
            "file": file.to_api(),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }
    )


def _files_delete(slack: FakeSlack, args: JSONDict) -> _Reply:
    file = _file_arg(slack, args)
    file.deleted = True
    return _Reply({"ok": True})


def _users_info(slack: FakeSlack, args: JSONDict) -> _Reply:
    user = slack.users.get(str(args.get("user", "")))
    if user is None:
        raise SlackFailure("user_not_found")
    with_email = "users:read.email" in slack.scopes
    return _Reply({"ok": True, "user": user.to_api(slack.team_id, with_email)})


def _users_list(slack: FakeSlack, args: JSONDict) -> _Reply:
    """Members in id order, paged by an opaque cursor (the offset) as Slack pages them."""
    members = [slack.users[key] for key in sorted(slack.users)]
    try:
        limit = int(args.get("limit") or 0) or len(members) or 1
        start = int(str(args.get("cursor") or "0").removeprefix("offset:"))
    except ValueError:
        raise SlackFailure("invalid_cursor") from None
    if limit > 1000:
        raise SlackFailure("invalid_limit")
    page = members[start : start + limit]
    following = start + limit if start + limit < len(members) else None
    with_email = "users:read.email" in slack.scopes
    return _Reply(
        {
            "ok": True,
            "members": [user.to_api(slack.team_id, with_email) for user in page],
            "response_metadata": {"next_cursor": f"offset:{following}" if following else ""},
        }
    )


def _usergroups_users_list(slack: FakeSlack, args: JSONDict) -> _Reply:
    group = slack.usergroups.get(str(args.get("usergroup", "")))
    if group is None:
        raise SlackFailure("no_such_subteam")
    return _Reply({"ok": True, "users": list(group.users)})


def _usergroups_list(slack: FakeSlack, args: JSONDict) -> _Reply:
    # Slack's usergroups.list: every enabled group of the workspace with its id, handle and name
    # (members only with include_users, which this emulator leaves out as Slack does by default).
    groups = [
        {"id": g.id, "team_id": slack.team_id, "handle": g.handle, "name": g.name,
         "user_count": len(g.users)}
        for g in slack.usergroups.values()
    ]  # fmt: skip
    return _Reply({"ok": True, "usergroups": groups})


_METHODS: dict[str, Handler] = {
    "auth.test": _auth_test,
    "chat.postMessage": _chat_post_message,
    "chat.postEphemeral": _chat_post_ephemeral,
    "chat.update": _chat_update,
    "chat.delete": _chat_delete,
    "conversations.open": _conversations_open,
    "views.open": _views_open,
    "views.push": _views_push,
    "views.update": _views_update,
    "views.publish": _views_publish,
    "files.getUploadURLExternal": _files_get_upload_url,
    "files.completeUploadExternal": _files_complete_upload,
    "files.info": _files_info,
    "files.delete": _files_delete,
    "users.info": _users_info,
    "users.list": _users_list,
    "usergroups.list": _usergroups_list,
    "usergroups.users.list": _usergroups_users_list,
}


# -------------------------------------------------------------------- helpers


async def _merged_args(request: Request) -> JSONDict:
    """Query string, then form body, then JSON body; later sources win. Raises ValueError."""
    args: JSONDict = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if content_type == "application/json":
        if raw:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            args.update(body)
    elif content_type == "application/x-www-form-urlencoded":
        args.update(parse_qsl(raw.decode(), keep_blank_values=True))
    for key in _JSON_ARGS:
        encoded = args.get(key)
        if isinstance(encoded, str) and encoded[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(encoded)
    return args


def _json_arg(args: Mapping[str, Any], key: str) -> Any:
    value = args.get(key)
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackFailure(
                "invalid_blocks_format" if key == "blocks" else "invalid_arguments"
            ) from None
    return value


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _peer(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else ""


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process that starts the emulator owns those."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _fault_reply(fault: _Fault) -> _Reply:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return _Reply({"ok": False, "error": fault.error}, status=fault.status, headers=headers)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _ts_key(message: FakeMessage) -> tuple[int, int]:
    seconds, _, micros = message.ts.partition(".")
    return int(seconds), int(micros or 0)


def _random_id(length: int) -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(length))


def _tz_offset(tz: str) -> int:
    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):  # no tzdata here: UTC will do for a fake
        return 0
    return int(offset.total_seconds()) if offset else 0
