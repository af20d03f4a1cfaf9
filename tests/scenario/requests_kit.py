"""Scenario kit for requests and signing: a running bot, linked and enrolled people, clicks,
modals and their submissions, all over HTTP against the fake Slack and the bot's sandbox."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.jobs import Job
from emulators.approvalflow import SandboxState
from emulators.slack import Call, FakeMessage, FakeSlack, FakeView, ResponsePost
from emulators.slack.blockkit_limits import message_problems
from services.audit.chain import AuditEntry
from services.outbound_tls import shared_tls_context
from testkit.rfc6238 import code_for_step
from tests.fakes.clock import FakeClock
from tests.scenario.harness import RunningBot, bot_environment, running_bot
from tests.scenario.test_linking import Linking

TEAM = "T0TEAM"
CHANNEL = "C0DOCS"
# Slack users and the sandbox's seeded Atlassian people with the same email.
PEOPLE = {
    "U0ALICE": ("Alice Anders", "alice@example.com"),
    "U0BOB": ("Bob Baker", "bob@example.com"),
    "U0CAROL": ("Carol Chen", "carol@example.com"),
    "U0DAVE": ("Dave Diaz", "dave@example.com"),
    "U0ERIN": ("Erin Evans", "erin@example.com"),
    "U0FRANK": ("Frank Fischer", "frank@example.com"),
}
_REQUEST_ID = re.compile(r"AR-[2346790ACDEFGHJKMNPQRTUVWXYZ]{4}")


@dataclass
class Posted:
    """A request as posted: its id and its channel message."""

    id: str
    channel: str
    ts: str


@dataclass
class Requests:
    """The bot under test with the means to act as each person."""

    bot: RunningBot
    slack: FakeSlack
    clock: FakeClock
    linking: Linking
    secrets: dict[str, str] = field(default_factory=dict)  # Slack user -> TOTP setup key
    last_step: dict[str, int] = field(default_factory=dict)

    @property
    def sandbox(self) -> SandboxState:
        assert self.bot.container.sandbox is not None
        return self.bot.container.sandbox

    # -- people ------------------------------------------------------------------------------

    async def link(self, user: str) -> None:
        """/approvals connect -> the sandbox's consent page (Allow) -> callback, over HTTP."""
        email = PEOPLE[user][1]
        result = await self.linking.consent(await self.linking.connect_url(user), email)
        assert result.url.params.get("result") == "linked", result.text

    async def enrol(self, user: str) -> None:
        """An active Approval Token, through the service (the enrolment DM has its own tests)."""
        tokens = self.bot.container.tokens
        enrolment = await tokens.start_enrolment(user, PEOPLE[user][1])
        self.secrets[user] = enrolment.setup_key
        await tokens.activate(user, self.code(user), enrolment.enrolment_id)

    async def ready(self, *users: str) -> None:
        for user in users:
            await self.link(user)
            await self.enrol(user)

    def step(self) -> int:
        return int(self.clock.now().timestamp()) // 30

    def code(self, user: str) -> str:
        """A code the server will accept once: each time step is used once per person, so a
        second code moves on a step (the clock too, when ±1 step would not reach)."""
        step = max(self.step(), self.last_step.get(user, -1) + 1)
        if step > self.step() + 1:
            self.clock.advance(seconds=30)
            return self.code(user)
        self.last_step[user] = step
        return code_for_step(self.secrets[user], step)

    # -- requests ----------------------------------------------------------------------------

    async def command(
        self, text: str, user: str, channel: str = CHANNEL, *, wait: bool = True
    ) -> ResponsePost | None:
        """A slash command; its answer: the ack's body, else what came back on its
        response_url (waited for unless `wait` is False; then None)."""
        url = self.slack.new_response_url(channel=channel, user=user)
        response = await self.bot.command(
            text,
            user_id=user,
            channel_id=channel,
            team_id=TEAM,
            response_url=url,
            trigger_id=self.slack.new_trigger_id(user),
        )
        assert response.status_code == 200, response.text
        if response.text:
            return ResponsePost(url, response.json(), self.clock.now(), channel, user)
        return await self.slack.response_post(url) if wait else None

    async def request(self, text: str, user: str = "U0ALICE", channel: str = CHANNEL) -> Posted:
        before = len(self.slack.calls_to("chat.postMessage"))
        answer = await self.command(f"request {text}", user, channel)
        assert answer is not None
        found = _REQUEST_ID.search(answer.text or "")
        assert found, answer.text
        [call] = [
            c
            for c in self.slack.calls_to("chat.postMessage")[before:]
            if c.ok and found.group(0) in str(c.args.get("text"))
        ]
        return Posted(found.group(0), str(call.response["channel"]), str(call.response["ts"]))

    def message(self, posted: Posted) -> FakeMessage:
        message = self.slack.message(posted.channel, posted.ts)
        assert message is not None
        assert message_problems(message.text, message.blocks) == []
        return message

    # -- signing -----------------------------------------------------------------------------

    async def click(
        self, user: str, request_id: str, decision: str = "approve", posted: Posted | None = None
    ) -> FakeView:
        """Press Approve or Reject; the modal once the bot has filled it in."""
        updates = self._views_updated(user)
        response = await self.bot.interact(self.click_payload(user, request_id, decision, posted))
        assert response.status_code == 200 and response.text == ""
        return await self._filled_in(user, updates)

    def click_payload(
        self, user: str, request_id: str, decision: str = "approve", posted: Posted | None = None
    ) -> dict[str, Any]:
        """The block_actions of one press of Approve or Reject (a trigger of its own)."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0APP",
            "trigger_id": self.slack.new_trigger_id(user),
            "container": {"type": "message", "channel_id": CHANNEL},
            "actions": [
                {
                    "type": "button",
                    "action_id": f"request_{decision}",
                    "block_id": f"decide:{request_id}",
                    "value": request_id,
                    "action_ts": "1.0",
                }
            ],
        }
        if posted is not None:
            payload["container"] = {
                "type": "message",
                "channel_id": posted.channel,
                "message_ts": posted.ts,
            }
        return payload

    async def by_command(self, user: str, text: str) -> FakeView:
        updates = self._views_updated(user)
        answer = await self.command(text, user, wait=False)
        assert answer is None, answer.text if answer else None
        return await self._filled_in(user, updates)

    def _updated_for(self, user: str, call: Call) -> bool:
        """An answered views.update of one of `user`'s views (a rate-limited one is sent
        again; other people's, signing at the same time, are not theirs)."""
        view = self.slack.views.get(str(call.args.get("view_id")))
        return call.ok and view is not None and view.user_id == user

    def _views_updated(self, user: str) -> int:
        return len([c for c in self.slack.calls_to("views.update") if self._updated_for(user, c)])

    async def _filled_in(self, user: str, updates: int) -> FakeView:
        await self.slack.wait_for(
            "views.update",
            count=updates + 1,
            timeout=10,
            where=lambda c: self._updated_for(user, c),
        )
        [view] = self.slack.view_stack(user)
        return view

    async def submit(
        self,
        user: str,
        view: FakeView,
        *,
        code: str | None = None,
        reason: str | None = None,
        comment: str | None = None,
        metadata: str | None = None,
    ) -> dict[str, Any]:
        """Submit the signing form; Slack's answer to the submission (the ack's body)."""
        response = await self.bot.interact(
            self.submission(user, view, code, reason, comment, metadata)
        )
        assert response.status_code == 200, response.text
        return response.json() if response.text else {}

    def submission(
        self,
        user: str,
        view: FakeView,
        code: str | None,
        reason: str | None = None,
        comment: str | None = None,
        metadata: str | None = None,
    ) -> dict[str, Any]:
        blocks = {b.get("block_id") for b in view.blocks if b["type"] == "input"}
        values: dict[str, Any] = {}
        for block, value in (("code", code), ("reason", reason), ("comment", comment)):
            if block in blocks:
                values[block] = {block: {"type": "plain_text_input", "value": value}}
        body = dict(view.view)
        body["state"] = {"values": values}
        if metadata is not None:
            body["private_metadata"] = metadata
        return {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0APP",
            "trigger_id": self.slack.new_trigger_id(user),
            "view": body,
        }

    # -- jobs and the trail ------------------------------------------------------------------

    def job(self, name: str) -> Job:
        [job] = [j for j in self.bot.container.jobs.jobs if j.name == name]
        return job

    async def audit(self) -> list[AuditEntry]:
        return [entry async for entry in self.bot.container.audit_log.entries()]


def view_text(view: FakeView | dict[str, Any]) -> str:
    """Every text in a view, joined (for assertions about what the person reads)."""
    blocks = view.blocks if isinstance(view, FakeView) else view.get("blocks", [])
    return _texts(blocks)


def message_text(message: FakeMessage) -> str:
    return _texts(message.blocks or [])


def _texts(node: Any) -> str:
    if isinstance(node, dict):
        parts = [node["text"]] if isinstance(node.get("text"), str) else []
        return "\n".join(parts + [_texts(v) for k, v in node.items() if k != "text" or not parts])
    if isinstance(node, list):
        return "\n".join(_texts(item) for item in node)
    return ""


def buttons(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [e for b in blocks or [] if b["type"] == "actions" for e in b["elements"]]


def action_ids(blocks: list[dict[str, Any]] | None) -> list[str]:
    return [str(e["action_id"]) for e in buttons(blocks)]


@asynccontextmanager
async def requests_world(
    fake_slack: FakeSlack, redis_url: str, clock: FakeClock, **env: str
) -> AsyncIterator[Requests]:
    for user, (name, email) in PEOPLE.items():
        fake_slack.add_user(user, real_name=name, email=email)
    environ = bot_environment(fake_slack.api_url, redis_url, **env)
    async with (
        running_bot(environ, clock=clock) as bot,
        httpx.AsyncClient(
            follow_redirects=True, timeout=10, verify=shared_tls_context()
        ) as browser,
    ):
        yield Requests(bot, fake_slack, clock, Linking(bot, fake_slack, clock, browser))
