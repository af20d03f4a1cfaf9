"""What Slack sends an app: slash commands, interactions and events, signed, to its Request URL.

Every request carries a v0 signature and a timestamp; commands are form bodies, interactions
`payload=` form bodies, events JSON. Each command or interaction gets a fresh trigger_id (3 s,
single use) and, where Slack gives one, a response_url. What the app answers in its ack is
applied as Slack applies it: a command's body shows as an ephemeral message, a view
submission's `response_action` updates, pushes, clears or shows errors under the fields.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import httpx

from emulators.slack.emulator import FakeSlack
from emulators.slack.records import FakeMessage, FakeView, JSONDict
from emulators.slack.signing import command_body, interactive_body, signed_headers

TIMEOUT_SECONDS = 10.0  # Slack gives up after 3 s; the playground waits longer, for a slow laptop


@dataclass
class Delivered:
    """The app's answer to one request."""

    status: int
    body: str

    @property
    def json(self) -> JSONDict:
        try:
            data = json.loads(self.body) if self.body else {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


class AppDelivery:
    """Sends a person's actions to the app, as Slack would, and applies the app's answers."""

    def __init__(
        self,
        slack: FakeSlack,
        *,
        request_url: str,
        signing_secret: str,
        team_domain: str = "playground",
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.slack = slack
        self.request_url = request_url
        self.signing_secret = signing_secret
        self.team_domain = team_domain
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ slash commands

    async def command(self, user: str, channel: str, command: str, text: str) -> Delivered:
        """`/command text` typed by `user` in `channel` (text already escaped as Slack does)."""
        body = command_body(
            text,
            user_id=user,
            channel_id=channel,
            team_id=self.slack.team_id,
            response_url=self.slack.new_response_url(channel=channel, user=user),
            trigger_id=self.slack.new_trigger_id(user),
            command=command,
        )
        answer = await self._post(body, "application/x-www-form-urlencoded")
        if answer.status == 200 and answer.body.strip():
            self.slack.apply_ack(channel, user, _ack_message(answer))
        return answer

    # ------------------------------------------------------------------ interactions

    async def message_action(
        self, user: str, message: FakeMessage, action: JSONDict, block_id: str
    ) -> Delivered:
        """A button press, overflow choice or select in a message."""
        payload = self._interaction("block_actions", user)
        payload["container"] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": message.ephemeral_user is not None,
        }
        payload["channel"] = {
            "id": message.channel,
            "name": self.slack.channel_names.get(message.channel, "directmessage"),
        }
        payload["message"] = message.to_api()
        payload["response_url"] = self.slack.new_response_url(
            channel=message.channel, user=user, message_ts=message.ts
        )
        payload["actions"] = [_action(action, block_id)]
        payload["state"] = {"values": {}}
        return await self._post(interactive_body(payload), "application/x-www-form-urlencoded")

    async def view_action(
        self, user: str, view: FakeView, action: JSONDict, block_id: str, values: JSONDict
    ) -> Delivered:
        """A button or select inside a modal or the Home tab."""
        payload = self._interaction("block_actions", user)
        payload["container"] = {"type": "view", "view_id": view.id}
        payload["view"] = {**view.view, "state": {"values": values}}
        payload["actions"] = [_action(action, block_id)]
        return await self._post(interactive_body(payload), "application/x-www-form-urlencoded")

    async def submit_view(self, user: str, view: FakeView, values: JSONDict) -> Delivered:
        """The person pressed the modal's submit button; applies the app's response_action."""
        payload = self._interaction("view_submission", user)
        payload["view"] = {**view.view, "state": {"values": values}}
        payload["response_urls"] = []
        answer = await self._post(interactive_body(payload), "application/x-www-form-urlencoded")
        if answer.status == 200:
            self.slack.apply_submission(view.id, answer.json)
        return answer

    async def close_view(self, user: str, view: FakeView) -> Delivered | None:
        """The person closed the modal; the app hears of it only with notify_on_close."""
        self.slack.close_view(view.id)
        self.slack.touch()
        if not view.view.get("notify_on_close"):
            return None
        payload = self._interaction("view_closed", user)
        payload["view"] = view.view
        payload["is_cleared"] = False
        return await self._post(interactive_body(payload), "application/x-www-form-urlencoded")

    # ------------------------------------------------------------------ events

    async def app_home_opened(self, user: str) -> Delivered:
        """The person opened the app's Home tab (Events API, JSON, signed like the rest)."""
        event: JSONDict = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.slack.dm_for(user),
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        home = self.slack.home_view(user)
        if home is not None:
            event["view"] = home.view
        envelope = {
            "token": "playground-verification-token",
            "team_id": self.slack.team_id,
            "api_app_id": self.slack.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": self.slack.team_id,
                    "user_id": self.slack.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
        return await self._post(json.dumps(envelope), "application/json")

    # ------------------------------------------------------------------ plumbing

    def _interaction(self, kind: str, user: str) -> JSONDict:
        person = self.slack.users.get(user)
        name = person.name if person else user.lower()
        return {
            "type": kind,
            "team": {"id": self.slack.team_id, "domain": self.team_domain},
            "user": {"id": user, "username": name, "name": name, "team_id": self.slack.team_id},
            "api_app_id": self.slack.app_id,
            "token": "playground-verification-token",
            "trigger_id": self.slack.new_trigger_id(user),
            "is_enterprise_install": False,
        }

    async def _post(self, body: str, content_type: str) -> Delivered:
        headers = signed_headers(self.signing_secret, body, content_type=content_type)
        try:
            response = await self._http.post(self.request_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # Slack tells the person the app did not respond; so does the playground.
            return Delivered(0, f"the app did not respond ({type(exc).__name__})")
        return Delivered(response.status_code, response.text)


def _action(action: JSONDict, block_id: str) -> JSONDict:
    out: JSONDict = {
        "type": action.get("type", "button"),
        "action_id": action.get("action_id", ""),
        "block_id": block_id,
        "action_ts": f"{time.time():.6f}",
    }
    for key in ("value", "text", "selected_option", "selected_user", "selected_date"):
        if key in action:
            out[key] = action[key]
    return out


def _ack_message(answer: Delivered) -> JSONDict:
    data = answer.json
    return data if data else {"text": answer.body}


def escape_mentions(text: str, slack: FakeSlack) -> str:
    """Slack's escaping for commands: `@name`, `#channel`, `@group` become `<@U…|name>`,
    `<#C…|name>` and `<!subteam^S…|@group>`; & < > become entities."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    words = []
    for word in text.split(" "):
        words.append(_escaped_word(word, slack))
    return " ".join(words)


def _escaped_word(word: str, slack: FakeSlack) -> str:
    stripped = word.rstrip(",.;:")
    tail = word[len(stripped) :]
    if stripped.startswith("@") and len(stripped) > 1:
        handle = stripped[1:]
        for user in slack.users.values():
            if user.name == handle:
                return f"<@{user.id}|{handle}>{tail}"
        for group in slack.usergroups.values():
            if group.handle == handle:
                return f"<!subteam^{group.id}|@{handle}>{tail}"
    if stripped.startswith("#") and len(stripped) > 1:
        for channel_id, name in slack.channel_names.items():
            if name == stripped[1:]:
                return f"<#{channel_id}|{name}>{tail}"
    return word
