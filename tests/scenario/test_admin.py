"""Admins over HTTP: `/approvals tokens` (every filter, pagination over 500 people, extend /
reset / unlock with their confirmations, the CSV), `/approvals audit` and its exports, refusals
of non-admins (forged buttons and forms included), and no secret anywhere an admin can look."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from bench.admin_seed import SEALED_MARK, access_token, seed_users
from bot.stores.linking import RedisGrantStore
from emulators.slack import FakeSlack, FakeView, ResponsePost
from emulators.slack.blockkit_limits import message_problems, view_problems
from services.admin.inventory import CSV_COLUMNS as TOKEN_COLUMNS
from services.approval_token import Condition
from services.audit.chain import AuditEntry, verify
from services.audit.events import Actor
from services.audit.trail import CSV_COLUMNS as AUDIT_COLUMNS
from services.audit.trail import entries_from_jsonl
from services.errors import TokenLocked, TokenRevoked, WrongCode
from services.linking import REQUESTED_SCOPES, SealedGrants
from services.linking.models import Grant
from testkit.rfc6238 import code_for_step
from tests.fakes.clock import FakeClock
from tests.scenario.harness import RunningBot, bot_environment, running_bot

TEAM = "T0TEAM"
ADMIN, OWNER, LISTED, BOB = "U0ADMIN", "U0OWNER", "U0LISTED", "U0BOB"
ALICE, CAROL, DAVE, ERIN, FRANK, GINA, HANK = (
    "U0ALICE",
    "U0CAROL",
    "U0DAVE",
    "U0ERIN",
    "U0FRANK",
    "U0GINA",
    "U0HANK",
)
PEOPLE = [ALICE, CAROL, DAVE, ERIN, FRANK, GINA, HANK]
T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)  # the FakeClock's start


@dataclass
class Console:
    """The running bot, the fake Slack, the clock; drives commands, clicks and forms."""

    bot: RunningBot
    slack: FakeSlack
    clock: FakeClock
    secrets: list[str] = field(default_factory=list)  # TOTP keys, URIs, OAuth tokens seeded
    token_keys: dict[str, str] = field(default_factory=dict)

    # -- seeding ----------------------------------------------------------------------------

    def code(self, user: str, steps: int = 0) -> str:
        return code_for_step(self.token_keys[user], int(self.clock.now().timestamp()) // 30 + steps)

    async def enrol(self, user: str, *, activate: bool = True) -> None:
        enrolment = await self.bot.container.tokens.start_enrolment(user, f"{user}@example.com")
        self.token_keys[user] = enrolment.setup_key
        self.secrets += [enrolment.setup_key, enrolment.otpauth_uri, enrolment.setup_key_grouped]
        if activate:
            await self.bot.container.tokens.activate(user, self.code(user))

    async def link(self, user: str, name: str, *, broken: bool = False, missing: str = "") -> None:
        c = self.bot.container
        grants = SealedGrants(RedisGrantStore(c.redis, c.keys), c.box)
        now = self.clock.now()
        grant = Grant(
            team_id=TEAM,
            user_id=user,
            access_token=f"at-{user}-oauth-access",
            refresh_token=f"rt-{user}-oauth-refresh",
            expires_at=now + timedelta(hours=1),
            scopes=frozenset(REQUESTED_SCOPES) - {missing},
            cloud_id="cloud-1",
            site_url="https://acme.atlassian.net",
            account_id=f"acc-{user}",
            name=name,
            email=f"{user[2:].lower()}@acme.com",
            linked_at=now,
            last_refreshed_at=now,
        )
        self.secrets += [grant.access_token, grant.refresh_token]
        written = await grants.link(grant)
        if broken:
            dead = replace(grant.broken_now(now, "invalid_grant"), version=written.version or 0)
            assert await grants.replace(dead) is not None

    async def seed_people(self) -> None:
        """ALICE active, CAROL expiring (scopes missing), DAVE expired (link broken), ERIN
        pending (never linked), FRANK locked, GINA revoked, HANK linked, never enrolled."""
        self.clock.set(T0 - timedelta(days=25))
        await self.enrol(CAROL)
        self.clock.set(T0 - timedelta(days=40))
        await self.enrol(DAVE)
        self.clock.set(T0)
        for user in (ALICE, FRANK, GINA):
            await self.enrol(user)
        await self.enrol(ERIN, activate=False)
        self.clock.advance(seconds=30)
        wrong = next(c for c in ("000000", "111111", "222222") if c not in self.near(FRANK))
        for _ in range(5):
            with pytest.raises((WrongCode, TokenLocked)):
                await self.bot.container.tokens.verify_for_signature(FRANK, wrong)
        await self.bot.container.tokens.revoke(GINA, Actor(GINA), "lost")
        await self.link(ALICE, "Alice Anders")
        await self.link(CAROL, "Carol Chen", missing="write:approval:custom")
        await self.link(DAVE, "Dave Dunn", broken=True)
        await self.link(FRANK, "Frank Fox")
        await self.link(GINA, "Gina Gold")
        await self.link(HANK, "=Hank Hill")  # a name a spreadsheet would run as a formula

    def near(self, user: str) -> set[str]:
        return {self.code(user, d) for d in (-1, 0, 1)}

    # -- Slack -------------------------------------------------------------------------------

    async def command(self, text: str, user: str = ADMIN) -> tuple[httpx.Response, str]:
        url = self.slack.new_response_url(user=user)
        trigger = self.slack.new_trigger_id(user)
        response = await self.bot.command(
            text, user_id=user, team_id=TEAM, response_url=url, trigger_id=trigger
        )
        assert response.status_code == 200
        return response, url

    async def answer_on(self, url: str) -> ResponsePost:
        post = await self.slack.response_post(url)
        assert message_problems(post.text or "", post.blocks) == []
        return post

    async def updates_after(self, before: int, count: int = 1) -> None:
        await self.slack.wait_for("views.update", before + count, timeout=10)

    async def open_listing(self, text: str = "tokens", user: str = ADMIN) -> FakeView:
        updates = len(self.slack.calls_to("views.update"))
        response, _ = await self.command(text, user)
        assert response.text == ""  # acked at once, empty
        await self.updates_after(updates)
        [view] = self.slack.view_stack(user)
        assert view.callback_id == "admin_tokens"
        return checked(view)

    def payload(self, view: FakeView, user: str, action: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM},
            "api_app_id": self.slack.app_id,
            "trigger_id": self.slack.new_trigger_id(user),
            "container": {"type": "view", "view_id": view.id},
            "view": view.view,
            "actions": [{**action, "action_ts": "1.2"}],
        }

    async def click(self, view: FakeView, action_id: str, user: str = ADMIN) -> FakeView:
        """Previous / Next: the bot redraws the same view (views.update with its hash)."""
        [button] = [
            e
            for b in view.blocks
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == action_id
        ]
        updates = len(self.slack.calls_to("views.update"))
        action = {**button, "block_id": "nav", "type": "button"}
        response = await self.bot.interact(self.payload(view, user, action))
        assert response.status_code == 200
        await self.updates_after(updates)
        return checked(self.slack.views[view.id])

    async def choose_filter(self, view: FakeView, value: str) -> FakeView:
        action = {
            "type": "static_select",
            "action_id": "admin_tokens_filter",
            "block_id": "filter",
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        }
        updates = len(self.slack.calls_to("views.update"))
        await self.bot.interact(self.payload(view, ADMIN, action))
        await self.updates_after(updates)
        return checked(self.slack.views[view.id])

    async def row_action(
        self, view: FakeView, user: str, action: str, clicker: str = ADMIN
    ) -> httpx.Response:
        """Choose an action from a row's overflow menu."""
        option = {"text": {"type": "plain_text", "text": action}, "value": f"{action}:{user}"}
        payload = self.payload(
            view,
            clicker,
            {
                "type": "overflow",
                "action_id": "admin_tokens_row",
                "block_id": f"row:{user}",
                "selected_option": option,
            },
        )
        response = await self.bot.interact(payload)
        assert response.status_code == 200
        return response

    async def confirm_view(self, listing: FakeView, user: str, action: str) -> FakeView:
        pushes = len(self.slack.calls_to("views.push"))
        await self.row_action(listing, user, action)
        [push] = (await self.slack.wait_for("views.push", pushes + 1))[pushes:]
        assert push.ok, push.response
        view = self.slack.view_stack(ADMIN)[-1]
        assert view.callback_id == "admin_token_confirm"
        return checked(view)

    async def submit(
        self,
        view: FakeView,
        *,
        days: str | None = None,
        reason: str | None = None,
        user: str = ADMIN,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            "reason": {"reason": {"type": "plain_text_input", "value": reason}},
        }
        if days is not None:
            values["days"] = {"days": {"type": "number_input", "value": days}}
        payload = {
            "type": "view_submission",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM},
            "api_app_id": self.slack.app_id,
            "trigger_id": self.slack.new_trigger_id(user),
            "view": {**view.view, "state": {"values": values}},
        }
        response = await self.bot.interact(payload)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        if answer.get("view"):
            assert view_problems(answer["view"]) == []
        return answer

    async def confirm(
        self, listing: FakeView, user: str, action: str, **form: str
    ) -> tuple[FakeView, FakeView]:
        """Row action -> confirmation -> submit; the outcome view and the refreshed listing."""
        confirm = await self.confirm_view(listing, user, action)
        updates = len(self.slack.calls_to("views.update"))
        answer = await self.submit(confirm, **form)
        assert answer["response_action"] == "update"  # "working" at once, then the outcome
        await self.updates_after(updates, 2)
        self.slack.close_view(confirm.id)  # the admin presses Back
        return checked(self.slack.views[confirm.id]), checked(self.slack.views[listing.id])

    async def entries(self) -> list[AuditEntry]:
        return [entry async for entry in self.bot.container.audit_log.entries()]

    async def file_in_dm(self, user: str, prefix: str, uploads_before: int = 0) -> str:
        """The content of the file the bot uploaded into the user's DM after `uploads_before`."""
        await self.slack.wait_for("files.completeUploadExternal", uploads_before + 1, timeout=10)
        dm = self.slack.dm_channel_id(user)
        files = [f for f in self.slack.files.values() if f.filename.startswith(prefix)]
        file = files[-1]
        assert file.channels == [dm] and file.content is not None
        return file.content.decode()

    def everything_slack_saw(self) -> str:
        """Every argument of every Web API call, every response_url post, every file's bytes."""
        parts = [json.dumps([c.args for c in self.slack.calls], default=str)]
        parts += [json.dumps(p.payload) for p in self.slack.response_posts]
        parts += [(f.content or b"").decode("utf-8", "replace") for f in self.slack.files.values()]
        return "\n".join(parts)


def sent(view: dict[str, Any]) -> dict[str, Any]:
    """The view as the bot sent it: the fake's stored copy adds absent fields as None."""
    return {key: value for key, value in view.items() if value is not None}


def checked(view: FakeView) -> FakeView:
    assert view_problems(sent(view.view)) == [], view_problems(sent(view.view))
    return view


def rows(view: FakeView) -> list[str]:
    return [
        b["block_id"].removeprefix("row:")
        for b in view.blocks
        if str(b.get("block_id", "")).startswith("row:")
    ]


def row_text(view: FakeView, user: str) -> str:
    [block] = [b for b in view.blocks if b.get("block_id") == f"row:{user}"]
    return str(block["text"]["text"])


def text_of(view: FakeView) -> str:
    return json.dumps(view.blocks, ensure_ascii=False)


@pytest.fixture
async def console(
    fake_slack: FakeSlack, redis: Redis, redis_url: str, clock: FakeClock
) -> AsyncIterator[Console]:
    fake_slack.add_user(ADMIN, real_name="Ann Admin", is_admin=True)
    fake_slack.add_user(OWNER, real_name="Olga Owner", is_owner=True)
    fake_slack.add_user(LISTED, real_name="Lee Listed")
    fake_slack.add_user(BOB, real_name="Bob Plain")
    for user in PEOPLE:
        fake_slack.add_user(user, real_name=f"{user[2:].title()} (Slack)")
    env = bot_environment(
        fake_slack.api_url, redis_url, ADMIN_USER_IDS=LISTED, SECURITY_CHANNEL="C0SECURITY"
    )
    async with running_bot(env, clock=clock) as bot:
        yield Console(bot, fake_slack, clock)


# --- who may ----------------------------------------------------------------------------


async def test_a_non_admin_is_refused_and_audited(console: Console) -> None:
    await console.seed_people()
    _, url = await console.command("tokens", BOB)
    post = await console.answer_on(url)
    assert post.kind == "ephemeral"
    assert "Only Slack workspace admins and owners" in (post.text or "")
    assert console.slack.calls_to("views.open") == []
    _, url = await console.command("audit export", BOB)
    assert "/approvals audit" in ((await console.answer_on(url)).text or "")
    assert console.slack.calls_to("files.getUploadURLExternal") == []
    refused = [e for e in await console.entries() if e.action == "admin.refused"]
    assert [(e.actor_slack_id, e.actor_name, e.details["attempted"]) for e in refused] == [
        (BOB, "Bob Plain", "tokens.list"),
        (BOB, "Bob Plain", "audit.export"),
    ]


@pytest.mark.parametrize("who", [ADMIN, OWNER, LISTED])
async def test_admins_owners_and_listed_ids_see_everyone(console: Console, who: str) -> None:
    await console.seed_people()
    view = await console.open_listing(user=who)
    # The loading modal came first, then the listing replaced it with the hash it had.
    [opened] = console.slack.calls_to("views.open")
    assert "Reading every Approval Token" in json.dumps(opened.args["view"])
    assert console.slack.calls_to("views.update")[-1].args["hash"]
    assert sorted(rows(view)) == sorted(PEOPLE)
    assert view.title == "Approval Tokens"
    summary = text_of(view)
    assert (
        "*7 people* · active 2 (expiring 1) · expired 1 · pending 1 · locked 1 · revoked 1 · "
        "not enrolled 1 · unlinked 2"
    ) in summary
    alice = row_text(view, ALICE)
    for part in (
        f"<@{ALICE}>",  # Slack renders the member's Slack name
        "Alice Anders · alice@acme.com",
        ":white_check_mark: ok",
        ":large_green_circle: active",
        "enrolled 2026-11-23 09:00 UTC",
        "expires 2026-12-23 09:00 UTC",
        "last used 2026-11-23 09:00 UTC",
        "failed attempts 0",
    ):
        assert part in alice, part
    assert "missing scopes (write:approval:custom)" in row_text(view, CAROL)
    assert "active (expiring)" in row_text(view, CAROL)
    assert ":x: broken" in row_text(view, DAVE) and "expired" in row_text(view, DAVE)
    assert "not linked" in row_text(view, ERIN) and "confirm by" in row_text(view, ERIN)
    assert "locked until 2026-11-23 09:15 UTC" in row_text(view, FRANK)
    assert "failed attempts 5" in row_text(view, FRANK)
    assert "revoked 2026-11-23 09:00 UTC" in row_text(view, GINA)
    assert "=Hank Hill" in row_text(view, HANK) and "not enrolled" in row_text(view, HANK)
    assert console.slack.violations == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tokens active", [ALICE, CAROL]),
        ("tokens expiring", [CAROL]),
        ("tokens expired", [DAVE]),
        ("tokens pending", [ERIN]),
        ("tokens locked", [FRANK]),
        ("tokens unlinked", [DAVE, ERIN]),
        (f"tokens <@{FRANK}|frank>", [FRANK]),
        ("tokens <@U0NOBODY>", ["U0NOBODY"]),
    ],
)
async def test_every_filter(console: Console, text: str, expected: list[str]) -> None:
    await console.seed_people()
    view = await console.open_listing(text)
    assert rows(view) == expected
    if text.endswith("<@U0NOBODY>"):
        assert "not enrolled" in row_text(view, "U0NOBODY")
        assert "not linked" in row_text(view, "U0NOBODY")
    # The summary always counts everyone, whatever is shown.
    assert "*7 people*" in text_of(view)
    assert console.slack.violations == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tokens bogus", "`bogus` is not something `/approvals tokens` understands"),
        ("tokens active locked", "takes one filter, one `@user` or `export`"),
        ("tokens @frank", "`@frank` is not a mention I can read"),
        ("audit --since yesterday", "`yesterday` is not a date"),
        ("audit --format jsonl", "`--format` goes with `/approvals audit export`"),
        ("audit delete", "`delete` is not something `/approvals audit` understands"),
    ],
)
async def test_malformed_input_gets_the_help_and_the_exact_problem(
    console: Console, text: str, problem: str
) -> None:
    response, _ = await console.command(text)
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith(problem) or problem in body["text"].split("\n\n")[0]
    assert (
        "/approvals tokens [active|expiring|expired|pending|locked|unlinked|@user]"
        in (body["text"])
    )
    assert message_problems(body["text"], body["blocks"]) == []


# --- actions ------------------------------------------------------------------------------


async def test_extend_asks_for_days_then_extends_and_audits(console: Console) -> None:
    await console.seed_people()
    listing = await console.open_listing()
    confirm = await console.confirm_view(listing, ALICE, "extend")
    assert confirm.title == "Extend Approval Token"
    assert "Extend <@U0ALICE>'s Approval Token?" in text_of(confirm)
    [days] = [b for b in confirm.blocks if b.get("block_id") == "days"]
    assert days["element"]["type"] == "number_input"

    # Out of range: shown under the field, nothing changes, nothing is audited.
    before = len(await console.entries())
    answer = await console.submit(confirm, days="0")
    assert answer == {
        "response_action": "errors",
        "errors": {"days": "A whole number of days, from 1 to 365."},
    }
    assert len(await console.entries()) == before

    updates = len(console.slack.calls_to("views.update"))
    answer = await console.submit(confirm, days="10", reason="quarterly review")
    assert answer["response_action"] == "update"
    assert "Checking and applying" in json.dumps(answer["view"])
    await console.updates_after(updates, 2)
    outcome = checked(console.slack.views[confirm.id])
    assert "now expires 2027-01-02 09:00 UTC" in text_of(outcome)
    refreshed = checked(console.slack.views[listing.id])
    assert "now expires 2027-01-02 09:00 UTC" in text_of(refreshed)
    assert "expires 2027-01-02 09:00 UTC" in row_text(refreshed, ALICE)

    status = await console.bot.container.tokens.status(ALICE)
    assert status.expires_at == T0 + timedelta(days=40)
    new = (await console.entries())[before:]
    assert [(e.action, e.actor_slack_id, e.actor_name) for e in new] == [
        ("token.extended", ADMIN, "Ann Admin"),
        ("admin.token.extend", ADMIN, "Ann Admin"),
    ]
    assert new[1].target == f"approval-token:{ALICE}" and new[1].reason == "quarterly review"
    assert new[1].details["days"] == "10"
    dm = console.slack.dm_messages(ALICE)[-1]
    assert f"An admin (<@{ADMIN}>) extended your Approval Token" in dm.text


async def test_reset_revokes_until_the_user_enrols_again_themselves(console: Console) -> None:
    await console.seed_people()
    listing = await console.open_listing()
    outcome, refreshed = await console.confirm(listing, ALICE, "reset", reason="phone stolen")
    assert "is revoked" in text_of(outcome)
    assert ":no_entry_sign: revoked" in row_text(refreshed, ALICE)
    tokens = console.bot.container.tokens
    assert (await tokens.status(ALICE)).condition is Condition.REVOKED
    console.clock.advance(seconds=30)
    with pytest.raises(TokenRevoked):
        await tokens.verify_for_signature(ALICE, console.code(ALICE))
    entries = await console.entries()
    [reset] = [e for e in entries if e.action == "admin.token.reset"]
    assert (reset.actor_slack_id, reset.reason, reset.details["previous"]) == (
        ADMIN,
        "phone stolen",
        "active",
    )
    [revoked] = [e for e in entries if e.action == "token.revoked" and e.target.endswith(ALICE)]
    assert revoked.actor_slack_id == ADMIN and revoked.reason == "admin reset: phone stolen"
    assert "run `/approvals enroll`" in console.slack.dm_messages(ALICE)[-1].text
    # Only Alice can enrol again; then she can sign, with a new secret.
    await console.enrol(ALICE)
    console.clock.advance(seconds=30)
    verified = await tokens.verify_for_signature(ALICE, console.code(ALICE))
    assert verified.user == ALICE


async def test_unlock_clears_the_lock_and_the_count(console: Console) -> None:
    await console.seed_people()
    listing = await console.open_listing("tokens locked")
    outcome, refreshed = await console.confirm(listing, FRANK, "unlock")
    assert "is unlocked" in text_of(outcome)
    assert rows(refreshed) == []  # still showing "locked", and nobody is any more
    status = await console.bot.container.tokens.status(FRANK)
    assert status.condition is Condition.ACTIVE and status.failures == 0
    console.clock.advance(seconds=30)
    assert await console.bot.container.tokens.verify_for_signature(FRANK, console.code(FRANK))
    [unlock] = [e for e in await console.entries() if e.action == "admin.token.unlock"]
    assert unlock.actor_slack_id == ADMIN and unlock.target == f"approval-token:{FRANK}"


async def test_an_action_that_no_longer_applies_says_why_in_the_modal(console: Console) -> None:
    await console.seed_people()
    listing = await console.open_listing()
    confirm = await console.confirm_view(listing, ALICE, "reset")
    await console.bot.container.tokens.revoke(ALICE, Actor(ALICE), "lost")  # meanwhile
    updates = len(console.slack.calls_to("views.update"))
    await console.submit(confirm)
    await console.updates_after(updates)
    assert "nothing was revoked" in text_of(console.slack.views[confirm.id])
    assert not [e for e in await console.entries() if e.action == "admin.token.reset"]


async def test_forged_admin_buttons_and_forms_from_a_non_admin(console: Console) -> None:
    await console.seed_people()
    listing = await console.open_listing()
    confirm = await console.confirm_view(listing, ALICE, "reset")
    pushes = len(console.slack.calls_to("views.push"))

    # Bob replays the admin's row menu, page button and confirmation form as his own.
    await console.row_action(listing, ALICE, "reset", clicker=BOB)
    await console.slack.wait_for(
        "chat.postMessage", where=lambda c: "Only Slack workspace admins" in str(c.args)
    )
    answer = await console.submit(confirm, user=BOB)
    assert answer["response_action"] == "update"
    await console.slack.wait_for(
        "views.update", where=lambda c: "Only Slack workspace admins" in str(c.args)
    )
    payload = console.payload(
        listing, BOB, {"type": "button", "action_id": "admin_tokens_next", "value": "1"}
    )
    await console.bot.interact(payload)

    refused = []
    for _ in range(200):
        refused = [e for e in await console.entries() if e.action == "admin.refused"]
        if len(refused) == 3:
            break
        await asyncio.sleep(0.01)
    assert [(e.actor_slack_id, e.details["attempted"], e.target) for e in refused] == [
        (BOB, "token.reset", f"approval-token:{ALICE}"),
        (BOB, "token.reset", f"approval-token:{ALICE}"),
        (BOB, "tokens.list", "admin:tokens.list"),
    ]
    assert len(console.slack.calls_to("views.push")) == pushes
    assert (await console.bot.container.tokens.status(ALICE)).condition is Condition.ACTIVE
    assert not [e for e in await console.entries() if e.action.startswith("admin.token.")]


# --- exports and the audit trail ------------------------------------------------------------


async def test_tokens_export_is_a_csv_in_the_admins_dm(console: Console) -> None:
    await console.seed_people()
    _, url = await console.command("tokens export")
    content = await console.file_in_dm(ADMIN, "approval-tokens-")
    post = await console.answer_on(url)
    assert "The Approval Token table (7 people)" in (post.text or "")
    table = list(csv.DictReader(io.StringIO(content)))
    assert tuple(table[0]) == TOKEN_COLUMNS
    by_user = {r["slack_user_id"]: r for r in table}
    assert sorted(by_user) == sorted(PEOPLE)
    alice = by_user[ALICE]
    assert alice == {
        "slack_user_id": ALICE,
        "slack_name": "Alice (Slack)",
        "atlassian_name": "Alice Anders",
        "atlassian_email": "alice@acme.com",
        "atlassian_account_id": f"acc-{ALICE}",
        "link_state": "ok",
        "missing_scopes": "",
        "approval_token_state": "active",
        "expiring_within_7_days": "no",
        "enrolment_started_at_utc": "2026-11-23T09:00:00Z",
        "enrolled_at_utc": "2026-11-23T09:00:00Z",
        "expires_at_utc": "2026-12-23T09:00:00Z",
        "last_used_at_utc": "2026-11-23T09:00:00Z",
        "failed_attempts": "0",
        "locked_until_utc": "",
        "revoked_at_utc": "",
    }
    assert by_user[CAROL]["expiring_within_7_days"] == "yes"
    assert by_user[CAROL]["missing_scopes"] == "write:approval:custom"
    assert by_user[DAVE]["link_state"] == "broken"
    assert by_user[DAVE]["approval_token_state"] == "expired"
    assert by_user[ERIN]["link_state"] == "not linked"
    assert by_user[FRANK]["locked_until_utc"] == "2026-11-23T09:15:30Z"
    assert by_user[GINA]["revoked_at_utc"] == "2026-11-23T09:00:30Z"
    assert by_user[HANK]["atlassian_name"] == "'=Hank Hill"  # never a formula
    [export] = [e for e in await console.entries() if e.action == "admin.tokens.export"]
    assert export.actor_slack_id == ADMIN and export.details["rows"] == "7"


async def test_audit_shows_the_newest_entries_and_the_chain_check(console: Console) -> None:
    await console.seed_people()
    listing = await console.open_listing()
    await console.confirm(listing, ALICE, "extend", days="5", reason="review")
    _, url = await console.command("audit")
    post = await console.answer_on(url)
    text = json.dumps(post.blocks, ensure_ascii=False)
    assert ":white_check_mark: Chain verified: audit trail intact" in text
    total = len(await console.entries())
    assert f"The newest {min(20, total)} of {total} entries" in text
    # Each entry: printed name, UTC date and time, the act (11.50), and its reason.
    assert re.search(
        r"2026-11-23 09:00:\d\d UTC · \*Ann Admin\* \(`U0ADMIN`\) · `admin.token.extend` · "
        r"target: approval-token:U0ALICE · reason: review",
        text,
    ), text

    _, url = await console.command("audit --since 2030-01-01")
    assert "No entries in this period" in json.dumps((await console.answer_on(url)).blocks)


async def test_audit_export_csv_and_jsonl_files(console: Console) -> None:
    await console.seed_people()
    listing = await console.open_listing()
    await console.confirm(listing, FRANK, "unlock", reason="verified by phone")
    stored = await console.entries()

    _, url = await console.command("audit export")
    content = await console.file_in_dm(ADMIN, "audit-trail-")
    assert "The audit trail" in ((await console.answer_on(url)).text or "")
    table = list(csv.DictReader(io.StringIO(content)))
    assert tuple(table[0]) == AUDIT_COLUMNS and len(table) == len(stored)
    [unlock] = [r for r in table if r["action"] == "admin.token.unlock"]
    assert unlock["printed_name"] == "Ann Admin" and unlock["reason"] == "verified by phone"
    assert unlock["utc_date_time"].startswith("2026-11-23T09:00:")
    assert unlock["utc_date_time"].endswith("Z")
    [comment] = [
        c.args.get("initial_comment")
        for c in console.slack.calls_to("files.completeUploadExternal")
    ]
    assert "Chain verified: audit trail intact" in str(comment)

    # JSON Lines of the whole trail (the CSV export's own entry included) verifies offline.
    await console.command("audit export --format jsonl")
    entries = entries_from_jsonl(await console.file_in_dm(ADMIN, "audit-trail-2", 1))
    assert [e.seq for e in entries] == list(range(1, len(stored) + 2))
    assert entries[-1].action == "admin.audit.export"
    assert verify(entries, keys=console.bot.container.audit_keys).ok

    # --since starts at that UTC day: the seeding done "days earlier" is left out.
    await console.command("audit export --since 2026-11-23 --format jsonl")
    since = entries_from_jsonl(await console.file_in_dm(ADMIN, "audit-trail-since-", 2))
    assert since and all(e.at >= "2026-11-23T00:00:00" for e in since)
    assert [e.seq for e in since] == [e.seq for e in entries if e.at >= "2026-11-23"] + [
        len(stored) + 2
    ]
    exports = [e for e in await console.entries() if e.action == "admin.audit.export"]
    assert [(e.details["format"], e.details["since"]) for e in exports] == [
        ("csv", ""),
        ("jsonl", ""),
        ("jsonl", "2026-11-23"),
    ]


async def test_no_secret_reaches_an_admin_anywhere(console: Console) -> None:
    await console.seed_people()
    listing = await console.open_listing()
    for user in (ALICE, CAROL, DAVE, ERIN, FRANK):
        for action in ("extend", "reset", "unlock"):
            confirm = await console.confirm_view(listing, user, action)
            console.slack.close_view(confirm.id)
    await console.confirm(listing, ERIN, "reset")
    commands = ("tokens export", "audit export", "audit export --format jsonl", "audit")
    urls = [(await console.command(text))[1] for text in commands]
    await console.slack.wait_for("files.completeUploadExternal", 3, timeout=10)
    for url in urls:  # each command's ephemeral reply
        await console.answer_on(url)
    seen = console.everything_slack_saw()
    seen += "\n".join(json.dumps(v.view) for v in console.slack.views.values())
    assert len(console.secrets) >= 20
    for secret in console.secrets:
        assert secret not in seen, "a secret reached Slack"
    assert "otpauth://" not in seen
    assert console.slack.violations == []


# --- hundreds of people ----------------------------------------------------------------------


async def test_500_people_page_through_valid_views(console: Console) -> None:
    c = console.bot.container
    await seed_users(c.redis, c.keys, c.box, 500, console.clock.now())
    view = await console.open_listing()
    assert "*500 people*" in text_of(view)
    seen = rows(view)
    pages = 1
    while any(
        e.get("action_id") == "admin_tokens_next"
        for b in view.blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ):
        view = await console.click(view, "admin_tokens_next")
        assert len(view.blocks) <= 100 and len(view.private_metadata) < 100
        seen += rows(view)
        pages += 1
    assert pages == 20 and len(seen) == len(set(seen)) == 500
    back = await console.click(view, "admin_tokens_prev")
    assert rows(back) == seen[450:475]

    locked = await console.choose_filter(back, "locked")
    assert "page 1 of 3" in text_of(locked)  # 62 locked people, 25 a page
    assert all("locked until" in row_text(locked, user) for user in rows(locked))
    for version in [*locked.versions, locked.view]:
        assert view_problems(sent(version)) == []
    assert console.slack.violations == []
    seen_text = console.everything_slack_saw()
    assert SEALED_MARK not in seen_text and access_token("U0000003") not in seen_text
