"""The playground's pages: pick a person, read channels and DMs, run commands, click, fill modals.

Server-rendered with Jinja2; htmx (vendored under static/) posts clicks and forms and polls the
parts of the page that the app changes on its own (messages, the open modal, the Home tab), each
answering 204 while nothing changed so what a person is typing is never redrawn away.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from emulators.slack.delivery import AppDelivery, Delivered, escape_mentions
from emulators.slack.emulator import FakeSlack
from emulators.slack.playground import mrkdwn
from emulators.slack.playground.seed import DOCS_CHANNEL
from emulators.slack.records import SLACKBOT, FakeMessage, FakeUser, FakeView, JSONDict

HERE = Path(__file__).parent
PersonHandler = Callable[[Request, FakeUser], Awaitable[Response]]
COOKIE = "playground_as"
REQUIRED = "Please complete this required field."
APP_NAME = "Approvals"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class PlaygroundPages:
    """Routes for one workspace; mount them (with the emulator's Web API) under `base`."""

    def __init__(
        self, slack: FakeSlack, delivery: AppDelivery, *, base: str, confluence_url: str
    ) -> None:
        self.slack = slack
        self.delivery = delivery
        self.base = base.rstrip("/")
        self.confluence_url = confluence_url
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
        )
        self.env.filters.update(
            mrkdwn=self._mrkdwn,
            plain=mrkdwn.plain_html,
            emoji_plain=mrkdwn.emoji_plain,
            clock=_clock,
            rich_text=_rich_text,
        )
        self.env.globals.update(base=self.base, author=self._author, file_gone=self._file_gone)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/who", self.who, methods=["GET"]),
            Route("/as/{user}", self.choose, methods=["GET"]),
            Route("/pane", self._as_person(self.pane), methods=["GET"]),
            Route("/modal", self._as_person(self.modal), methods=["GET"]),
            Route("/home", self._as_person(self.home), methods=["GET"]),
            Route("/say", self._as_person(self.say), methods=["POST"]),
            Route("/act", self._as_person(self.act), methods=["POST"]),
            Route("/view/submit", self._as_person(self.submit), methods=["POST"]),
            Route("/view/close", self._as_person(self.close), methods=["POST"]),
            Route("/files/{file_id}", self._as_person(self.file), methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static")),
            *self.slack.routes(),
        ]

    # ------------------------------------------------------------------ pages

    async def page(self, request: Request) -> Response:
        me = self._me(request)
        if me is None:
            return self._html("pick.html", **self._common())
        tab = request.query_params.get("tab")
        if tab == "home":
            await self.delivery.app_home_opened(me.id)
        current = self._conversation(request, me)
        return self._html(
            "workspace.html",
            **self._common(),
            me=me,
            tab=tab,
            current=current,
            dm=self.slack.dm_for(me.id),
            title=self._title(current, me),
            pane_part=self._pane(me, current),
            modal_part=self._modal(me),
            home_part=self._home(me),
        )

    async def who(self, request: Request) -> Response:
        response = self._html("pick.html", **self._common())
        response.delete_cookie(COOKIE, path=self.base or "/")
        return response

    async def choose(self, request: Request) -> Response:
        user = request.path_params["user"]
        if user not in self.slack.users:
            return self._html("pick.html", status=404, **self._common())
        response = RedirectResponse(f"{self.base}/?c={DOCS_CHANNEL}", status_code=303)
        response.set_cookie(COOKIE, user, path=self.base or "/", httponly=True, samesite="strict")
        return response

    async def pane(self, request: Request, me: FakeUser) -> Response:
        if request.query_params.get("v") == str(self.slack.revision):
            return Response(status_code=204)
        return HTMLResponse(self._pane(me, self._conversation(request, me)))

    async def modal(self, request: Request, me: FakeUser) -> Response:
        if request.query_params.get("v") == _view_key(self._top_view(me)):
            return Response(status_code=204)
        return HTMLResponse(self._modal(me))

    async def home(self, request: Request, me: FakeUser) -> Response:
        if request.query_params.get("v") == _view_key(self.slack.home_view(me.id)):
            return Response(status_code=204)
        return HTMLResponse(self._home(me))

    # ------------------------------------------------------------------ actions

    async def say(self, request: Request, me: FakeUser) -> Response:
        """The composer: `/command text` runs a command, anything else posts a message."""
        form = await _form(request)
        channel = self._conversation_id(form.get("c", ""), me)
        text = form.get("text", "").strip()
        if not text:
            return Response(status_code=204)
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command != "/approvals":
                self.slack.slackbot_says(channel, me.id, _not_a_command(command))
                return Response(status_code=204)
            answer = await self.delivery.command(
                me.id, channel, command, escape_mentions(rest.strip(), self.slack)
            )
            if answer.status != 200:
                self.slack.slackbot_says(channel, me.id, _failed(command, answer))
            return Response(status_code=204)
        self.slack.add_user_message(channel, escape_mentions(text, self.slack), user=me.id)
        self.slack.touch()
        return Response(status_code=204)

    async def act(self, request: Request, me: FakeUser) -> Response:
        """A button, overflow or select in a message, a modal or the Home tab."""
        fields = await _form(request)
        where, target = fields.get("where"), fields.get("id", "")
        try:
            b, e = int(fields.get("b", "")), int(fields.get("e", ""))
        except ValueError:
            return Response("bad element", status_code=400)
        if where == "message":
            message = self._find_message(me, target)
            if message is None:
                return Response(status_code=404)
            found = _element(message.blocks or [], b, e)
            if found is None:
                return Response(status_code=404)
            block_id, element = found
            action = _action(element, fields.get("picked"))
            await self.delivery.message_action(me.id, message, action, block_id)
        elif where == "view":
            view = self.slack.views.get(target)
            if view is None or view.user_id != me.id or view.closed:
                return Response(status_code=404)
            found = _element(view.blocks, b, e)
            if found is None:
                return Response(status_code=404)
            block_id, element = found
            values = _state_values(view, fields)
            await self.delivery.view_action(
                me.id, view, _action(element, fields.get("picked")), block_id, values
            )
        else:
            return Response("bad target", status_code=400)
        return Response(status_code=204)

    async def submit(self, request: Request, me: FakeUser) -> Response:
        fields: dict[str, Any] = {}
        for key, value in parse_qsl((await request.body()).decode(), keep_blank_values=True):
            previous = fields.get(key)
            if previous is None:
                fields[key] = value
            else:  # a checkbox group: several values under one name
                fields[key] = (
                    [*previous, value] if isinstance(previous, list) else [previous, value]
                )
        view = self.slack.views.get(str(fields.get("view_id", "")))
        if view is None or view.user_id != me.id or view.closed:
            return HTMLResponse(self._modal(me))
        # Slack's own client checks required fields and lengths before the app hears anything.
        problems = _client_checks(view, fields)
        view.errors = problems
        if not problems:
            answer = await self.delivery.submit_view(me.id, view, _state_values(view, fields))
            if answer.status != 200:
                view.errors = {"__app__": "We had some trouble connecting. Try again?"}
        self.slack.touch()
        return HTMLResponse(self._modal(me))

    async def close(self, request: Request, me: FakeUser) -> Response:
        form = await _form(request)
        view = self.slack.views.get(form.get("view_id", ""))
        if view is not None and view.user_id == me.id and not view.closed:
            await self.delivery.close_view(me.id, view)
        return HTMLResponse(self._modal(me))

    async def file(self, request: Request, me: FakeUser) -> Response:
        file = self.slack.files.get(request.path_params["file_id"])
        if file is None or file.deleted or file.content is None:
            return Response("file not found", status_code=404)
        visible = set(self.slack.channel_names) | {self.slack.dm_for(me.id)}
        if not visible.intersection(file.channels):
            return Response("file not found", status_code=404)
        return Response(
            file.content, media_type=file.mimetype, headers={"Cache-Control": "no-store"}
        )

    # ------------------------------------------------------------------ parts

    def _pane(self, me: FakeUser, channel: str) -> str:
        items = self.slack.messages(channel) + self.slack.ephemerals(channel=channel, user=me.id)
        items.sort(key=lambda m: (_ts(m.thread_ts or m.ts), _ts(m.ts)))
        return self._render(
            "pane.html",
            items=items,
            current=channel,
            revision=self.slack.revision,
            **self._common(),
        )

    def _modal(self, me: FakeUser) -> str:
        view = self._top_view(me)
        return self._render("modal.html", view=view, key=_view_key(view), **self._common())

    def _home(self, me: FakeUser) -> str:
        view = self.slack.home_view(me.id)
        return self._render("home.html", view=view, key=_view_key(view), **self._common())

    def _top_view(self, me: FakeUser) -> FakeView | None:
        stack = self.slack.view_stack(me.id)
        return stack[-1] if stack else None

    # ------------------------------------------------------------------ helpers

    def _as_person(self, handler: PersonHandler) -> Callable[[Request], Awaitable[Response]]:
        """Everything but the picker acts as someone: the person chosen in this browser."""

        async def endpoint(request: Request) -> Response:
            me = self._me(request)
            if me is None:
                return Response("Pick who you are first.", status_code=401)
            return await handler(request, me)

        return endpoint

    def _common(self) -> dict[str, Any]:
        users = sorted(self.slack.users.values(), key=lambda u: u.real_name)
        return {
            "team_name": self.slack.team_name,
            "people_full": [u for u in users if not u.is_bot and not u.deleted],
            "people": [(u.id, u.real_name) for u in users],
            "groups": list(self.slack.usergroups.values()),
            "channels": sorted(self.slack.channel_names.items(), key=lambda c: c[1]),
            "confluence_url": self.confluence_url,
        }

    def _me(self, request: Request) -> FakeUser | None:
        return self.slack.users.get(request.cookies.get(COOKIE, ""))

    def _conversation(self, request: Request, me: FakeUser) -> str:
        return self._conversation_id(request.query_params.get("c", ""), me)

    def _conversation_id(self, wanted: str, me: FakeUser) -> str:
        if wanted in self.slack.channel_names or wanted == self.slack.dm_for(me.id):
            return wanted
        return DOCS_CHANNEL

    def _title(self, channel: str, me: FakeUser) -> str:
        name = self.slack.channel_names.get(channel)
        return f"#{name}" if name else APP_NAME

    def _find_message(self, me: FakeUser, target: str) -> FakeMessage | None:
        channel, _, ts = target.partition("/")
        if channel != self._conversation_id(channel, me):
            return None
        message = self.slack.message(channel, ts)
        if message is not None and not message.deleted:
            return message
        return next(
            (m for m in self.slack.ephemerals(channel=channel, user=me.id) if m.ts == ts), None
        )

    def _author(self, message: FakeMessage) -> str:
        if message.user == SLACKBOT:
            return "Slackbot"
        if message.bot_id or message.user == self.slack.bot_user_id:
            return APP_NAME
        user = self.slack.users.get(message.user)
        return user.real_name if user else message.user

    def _file_gone(self, file_id: str) -> bool:
        file = self.slack.files.get(file_id)
        return file is None or file.deleted

    def _mrkdwn(self, value: Any) -> Markup:
        return mrkdwn.to_html(
            str(value),
            user_name=lambda uid: u.name if (u := self.slack.users.get(uid)) else uid,
            channel_name=lambda cid: self.slack.channel_names.get(cid, cid),
            group_name=lambda gid: g.handle if (g := self.slack.usergroups.get(gid)) else gid,
        )

    def _render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def _html(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(
            self._render(template, **context), status_code=status, headers=SECURITY_HEADERS
        )


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (what htmx posts); the last value wins for a repeated name."""
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


def _element(blocks: list[JSONDict], b: int, e: int) -> tuple[str, JSONDict] | None:
    """The interactive element at block `b`, element `e` (-1: the section's accessory)."""
    if not 0 <= b < len(blocks):
        return None
    block = blocks[b]
    block_id = str(block.get("block_id") or b)
    if e == -1:
        accessory = block.get("accessory")
        return (block_id, accessory) if isinstance(accessory, dict) else None
    elements = block.get("elements") or []
    if not 0 <= e < len(elements) or not isinstance(elements[e], dict):
        return None
    return block_id, elements[e]


def _action(element: JSONDict, picked: str | None) -> JSONDict:
    action: JSONDict = {
        k: element[k] for k in ("type", "action_id", "text", "value") if k in element
    }
    if picked is not None:
        option = next((o for o in _options(element) if o.get("value") == picked), None)
        if option is not None:
            action["selected_option"] = option
        elif element.get("type") == "users_select":
            action["selected_user"] = picked
    return action


def _options(element: JSONDict) -> list[JSONDict]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return [o for o in options if isinstance(o, dict)]


def _inputs(view: FakeView) -> list[tuple[str, JSONDict, JSONDict]]:
    out = []
    for index, block in enumerate(view.blocks):
        element = block.get("element")
        if block.get("type") == "input" and isinstance(element, dict):
            out.append((str(block.get("block_id") or index), block, element))
    return out


def _state_values(view: FakeView, fields: dict[str, Any]) -> JSONDict:
    """view.state.values as Slack builds it: block_id -> action_id -> the element's value."""
    values: JSONDict = {}
    for block_id, _block, element in _inputs(view):
        action_id = str(element.get("action_id", ""))
        raw = fields.get(f"{block_id}::{action_id}")
        kind = str(element.get("type"))
        state: JSONDict = {"type": kind}
        if kind in ("static_select", "radio_buttons"):
            state["selected_option"] = next(
                (o for o in _options(element) if o.get("value") == raw), None
            )
        elif kind == "checkboxes":
            picked = raw if isinstance(raw, list) else [raw] if raw else []
            state["selected_options"] = [o for o in _options(element) if o.get("value") in picked]
        elif kind == "datepicker":
            state["selected_date"] = raw or None
        else:
            state["value"] = raw if raw else None
        values[block_id] = {action_id: state}
    return values


def _client_checks(view: FakeView, fields: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for block_id, block, element in _inputs(view):
        raw = fields.get(f"{block_id}::{element.get('action_id', '')}")
        empty = raw is None or raw == "" or raw == []
        if empty:
            if not block.get("optional"):
                problems[block_id] = REQUIRED
            continue
        min_length = element.get("min_length")
        if isinstance(raw, str) and isinstance(min_length, int) and len(raw) < min_length:
            problems[block_id] = f"Must have at least {min_length} characters"
    return problems


def _view_key(view: FakeView | None) -> str:
    if view is None:
        return "none"
    errors = hashlib.sha256(json.dumps(view.errors, sort_keys=True).encode()).hexdigest()[:8]
    return f"{view.id}.{view.hash}.{errors}"


def _ts(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int(micros or 0)


def _clock(ts: str) -> str:
    return datetime.fromtimestamp(_ts(ts)[0], UTC).strftime("%H:%M")


def _rich_text(block: JSONDict) -> str:
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            for child in node.get("elements") or []:
                walk(child)

    walk(block)
    return "".join(parts)


def _not_a_command(command: str) -> str:
    return (
        f"`{command}` is not a valid command. In Slack, all messages that start with the "
        '"/" character are interpreted as commands.'
    )


def _failed(command: str, answer: Delivered) -> str:
    error = "operation_timeout" if answer.status == 0 else "dispatch_failed"
    return f'{command} failed with the error "{error}"'
