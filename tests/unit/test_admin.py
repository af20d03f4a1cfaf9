"""Admin services and their Slack surfaces, on the in-memory fakes: access, inventory, actions,
the CSV, command parsing, private_metadata, and Block Kit validity of every page."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.slack.sandbox_note import noted_view
from emulators.slack.blockkit_limits import view_problems
from handlers.admin import parse_audit_args, parse_tokens_args
from handlers.blocks.admin import (
    PAGE_SIZE,
    ConfirmState,
    ListingState,
    confirm_view,
    entry_line,
    listing_view,
    pages,
    parse_row_action,
)
from services.admin import (
    AdminAccess,
    AuditReview,
    ExportFormat,
    Filter,
    LinkState,
    SealedLinkRoster,
    Selection,
    TokenAction,
    TokenAdmin,
    TokenInventory,
)
from services.admin.inventory import CSV_COLUMNS, token_csv
from services.approval_token import ApprovalTokens, Condition, QrMessage
from services.audit.chain import AuditEntry
from services.audit.events import Actor, AuditEvent
from services.audit.trail import AuditTrail, check_details
from services.errors import (
    InputError,
    NotAllowed,
    NotFound,
    TokenLocked,
    TokenRevoked,
    UpstreamUnavailable,
    WrongCode,
)
from services.linking import REQUESTED_SCOPES, SealedGrants
from services.linking.models import Grant
from services.secretbox import SecretBox, new_key
from testkit.rfc6238 import code_for_step
from tests.fakes.approval_token_store import MemoryTokenStore
from tests.fakes.audit_log import InMemoryAuditLog
from tests.fakes.clock import FakeClock
from tests.fakes.linking import MemoryGrantStore
from tests.refused import refused

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Profile:
    user_id: str
    name: str
    email: str | None = None
    is_admin: bool = False
    deleted: bool = False


class FakeDirectory:
    def __init__(self) -> None:
        self.people: dict[str, Profile] = {}
        self.down = False

    async def user(self, user_id: str) -> Profile:
        if self.down:
            raise UpstreamUnavailable("Slack users.info failed: fatal_error")
        if user_id not in self.people:
            raise NotFound(f"Slack does not know the user {user_id}.")
        return self.people[user_id]


class RecordingAuditor:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        check_details(event.details)
        self.events.append(event)

    def actions(self) -> list[str]:
        return [e.action for e in self.events]


class NoAlerts:
    async def user_locked(self, user: str, until: datetime) -> None:
        return None


@dataclass
class RecordingNotices:
    sent: list[tuple[str, str]] = field(default_factory=list)

    async def extended(self, user: str, expires_at: datetime, by: Actor) -> None:
        self.sent.append(("extended", user))

    async def reset(self, user: str, by: Actor, qr: QrMessage | None) -> None:
        self.sent.append(("reset", user))

    async def unlocked(self, user: str, by: Actor) -> None:
        self.sent.append(("unlocked", user))


class Names:
    async def names(self) -> dict[str, str]:
        return {"U1": "Ada Slack", "U2": "=cmd|' /C calc'!A0"}


@dataclass
class World:
    clock: FakeClock
    box: SecretBox
    tokens: ApprovalTokens
    grants: SealedGrants
    directory: FakeDirectory
    auditor: RecordingAuditor
    notices: RecordingNotices
    access: AdminAccess
    inventory: TokenInventory
    actions: TokenAdmin

    def code(self, secret: str) -> str:
        return code_for_step(secret, int(self.clock.now().timestamp()) // 30)

    async def active(self, user: str) -> str:
        enrolment = await self.tokens.start_enrolment(user, f"{user}@example.com")
        await self.tokens.activate(user, self.code(enrolment.setup_key))
        return enrolment.setup_key

    async def link(self, user: str, name: str, *, broken: bool = False, scopes: int = 0) -> None:
        granted = frozenset(REQUESTED_SCOPES[: len(REQUESTED_SCOPES) - scopes])
        grant = Grant(
            team_id="T1",
            user_id=user,
            access_token=f"access-{user}",
            refresh_token=f"refresh-{user}",
            expires_at=self.clock.now() + timedelta(hours=1),
            scopes=granted,
            cloud_id="c1",
            site_url="https://acme.atlassian.net",
            account_id=f"acc-{user}",
            name=name,
            email=f"{user.lower()}@acme.com",
            linked_at=self.clock.now(),
            last_refreshed_at=self.clock.now(),
            broken=broken,
        )
        assert (await self.grants.link(grant)).version is not None


@pytest.fixture
def world() -> World:
    clock = FakeClock(T0)
    box = SecretBox([new_key()])
    auditor = RecordingAuditor()
    tokens = ApprovalTokens(
        store=MemoryTokenStore(),
        box=box,
        clock=clock,
        auditor=auditor,
        alerts=NoAlerts(),
        validity_days=30,
        max_failures=5,
        lockout_minutes=15,
    )
    grant_store = MemoryGrantStore()
    links = SealedLinkRoster(grant_store, box)
    directory = FakeDirectory()
    directory.people = {
        "UADMIN": Profile("UADMIN", "Ann Admin", is_admin=True),
        "ULISTED": Profile("ULISTED", "Lee Listed"),
        "UBOB": Profile("UBOB", "Bob Plain"),
    }
    access = AdminAccess(
        directory=directory, admin_ids=frozenset({"ULISTED"}), links=links, auditor=auditor
    )
    notices = RecordingNotices()
    return World(
        clock=clock,
        box=box,
        tokens=tokens,
        grants=SealedGrants(grant_store, box),
        directory=directory,
        auditor=auditor,
        notices=notices,
        access=access,
        inventory=TokenInventory(
            tokens=tokens, links=links, names=Names(), auditor=auditor, clock=clock
        ),
        actions=TokenAdmin(tokens=tokens, auditor=auditor, notices=notices),
    )


# --- who is an admin ------------------------------------------------------------------------


async def test_workspace_admins_and_listed_ids_are_admins(world: World) -> None:
    admin = await world.access.require("UADMIN", "tokens.list")
    assert admin.actor == Actor("UADMIN", None, "Ann Admin")
    listed = await world.access.require("ULISTED", "tokens.list")
    assert listed.user_id == "ULISTED"
    assert world.auditor.events == []


async def test_a_linked_admin_is_audited_by_their_atlassian_name(world: World) -> None:
    await world.link("UADMIN", "Ann Atlassian")
    admin = await world.access.require("UADMIN", "tokens.list")
    assert admin.actor == Actor("UADMIN", "acc-UADMIN", "Ann Atlassian")


async def test_everyone_else_is_refused_and_audited(world: World) -> None:
    with refused(NotAllowed, match="workspace admins and owners"):
        await world.access.require("UBOB", "token.reset", "approval-token:U1")
    with pytest.raises(NotAllowed):
        await world.access.require("UFORGED", "tokens.list")  # Slack does not know them
    [bob, forged] = world.auditor.events
    assert (bob.action, bob.actor, bob.target) == (
        "admin.refused",
        Actor("UBOB", None, "Bob Plain"),
        "approval-token:U1",
    )
    assert dict(bob.details) == {"attempted": "token.reset"}
    assert (forged.actor.slack_id, forged.target) == ("UFORGED", "admin:tokens.list")


async def test_slack_not_answering_never_lets_anyone_in(world: World) -> None:
    world.directory.down = True
    with pytest.raises(UpstreamUnavailable):
        await world.access.require("ULISTED", "tokens.list")


# --- the inventory ------------------------------------------------------------------------


async def seed(world: World) -> dict[str, str]:
    """U1 active, U2 expiring (link missing scopes), U3 expired (link broken), U4 pending
    (unlinked), U5 locked, U6 revoked, U7 linked but never enrolled."""
    secrets = {}
    world.clock.set(T0 - timedelta(days=25))
    secrets["U2"] = await world.active("U2")
    world.clock.set(T0 - timedelta(days=40))
    secrets["U3"] = await world.active("U3")
    world.clock.set(T0)
    for user in ("U1", "U5", "U6"):
        secrets[user] = await world.active(user)
    await world.tokens.start_enrolment("U4", "u4@example.com")
    world.clock.advance(seconds=30)
    for _ in range(5):
        with pytest.raises((WrongCode, TokenLocked)):
            await world.tokens.verify_for_signature("U5", "000000")
    await world.tokens.revoke("U6", Actor("U6"), "lost")
    await world.link("U1", "Ada One")
    await world.link("U2", "Bea Two", scopes=1)
    await world.link("U3", "Cy Three", broken=True)
    for user, name in (("U5", "Eve Five"), ("U6", "Fay Six"), ("U7", "Gus Seven")):
        await world.link(user, name)
    return secrets


async def test_roster_joins_tokens_and_links_and_filters(world: World) -> None:
    await seed(world)
    admin = await world.access.require("UADMIN", "tokens.list")
    roster = await world.inventory.roster(admin)
    states = {row.user_id: (row.condition, row.link_state) for row in roster.rows}
    assert states == {
        "U1": (Condition.ACTIVE, LinkState.OK),
        "U2": (Condition.ACTIVE, LinkState.MISSING_SCOPES),
        "U3": (Condition.EXPIRED, LinkState.BROKEN),
        "U4": (Condition.PENDING, LinkState.NONE),
        "U5": (Condition.LOCKED, LinkState.OK),
        "U6": (Condition.REVOKED, LinkState.OK),
        "U7": (Condition.NOT_ENROLLED, LinkState.OK),
    }

    def users(selection: Selection) -> list[str]:
        return [row.user_id for row in roster.matching(selection)]

    assert users(Selection(Filter.ACTIVE)) == ["U1", "U2"]  # by Atlassian name
    assert users(Selection(Filter.EXPIRING)) == ["U2"]
    assert users(Selection(Filter.EXPIRED)) == ["U3"]
    assert users(Selection(Filter.PENDING)) == ["U4"]
    assert users(Selection(Filter.LOCKED)) == ["U5"]
    assert users(Selection(Filter.UNLINKED)) == ["U3", "U4"]
    assert users(Selection.of_user("U6")) == ["U6"]
    [stranger] = roster.matching(Selection.of_user("U404"))
    assert stranger.condition is Condition.NOT_ENROLLED and stranger.link is None
    summary = roster.summary()
    assert (summary.people, summary.expiring, summary.unlinked) == (7, 1, 2)
    assert summary.count(Condition.ACTIVE) == 2 and summary.count(Condition.REVOKED) == 1


async def test_row_actions_follow_the_state(world: World) -> None:
    await seed(world)
    admin = await world.access.require("UADMIN", "tokens.list")
    roster = await world.inventory.roster(admin)
    actions = {row.user_id: row.actions for row in roster.rows}
    extend, reset, unlock = TokenAction.EXTEND, TokenAction.RESET, TokenAction.UNLOCK
    assert actions["U1"] == (extend, reset)
    assert actions["U3"] == (extend, reset)  # an expired token can be given more time
    assert actions["U4"] == (reset,)
    assert actions["U5"] == (extend, reset, unlock)
    assert actions["U6"] == () and actions["U7"] == ()


async def test_an_undecryptable_grant_is_one_unreadable_row(world: World) -> None:
    await seed(world)
    other = SecretBox([new_key()])
    admin = await world.access.require("UADMIN", "tokens.list")
    store = MemoryGrantStore()
    await SealedGrants(store, world.box).link(
        Grant("T1", "U9", "a", "r", T0, frozenset(), "c", "s", "acc-9", "N", None, T0, T0)
    )
    inventory = TokenInventory(
        tokens=world.tokens,
        links=SealedLinkRoster(store, other),  # the key that sealed it is not configured
        names=Names(),
        auditor=world.auditor,
        clock=world.clock,
    )
    [row] = (await inventory.roster(admin)).matching(Selection.of_user("U9"))
    assert row.link_state is LinkState.UNREADABLE and not row.link_state.usable


# --- admin actions ------------------------------------------------------------------------


async def test_extend_reset_unlock_change_the_token_and_are_audited(world: World) -> None:
    secrets = await seed(world)
    admin = await world.access.require("UADMIN", "token.extend")
    before = await world.tokens.status("U1")
    assert before.expires_at is not None
    expires = await world.actions.extend(admin, "U1", 10, "audit period")
    assert expires == before.expires_at + timedelta(days=10)
    assert (await world.tokens.status("U1")).expires_at == expires

    await world.actions.unlock(admin, "U5")
    assert (await world.tokens.status("U5")).condition is Condition.ACTIVE

    await world.actions.reset(admin, "U1", "device lost")
    assert (await world.tokens.status("U1")).condition is Condition.REVOKED
    world.clock.advance(seconds=30)
    with pytest.raises(TokenRevoked):
        await world.tokens.verify_for_signature("U1", world.code(secrets["U1"]))

    admin_events = [e for e in world.auditor.events if e.action.startswith("admin.token.")]
    assert [(e.action, e.actor.slack_id, e.target, e.reason) for e in admin_events] == [
        ("admin.token.extend", "UADMIN", "approval-token:U1", "audit period"),
        ("admin.token.unlock", "UADMIN", "approval-token:U5", ""),
        ("admin.token.reset", "UADMIN", "approval-token:U1", "device lost"),
    ]
    changes = ("token.extended", "token.unlocked", "token.revoked")
    token_events = [e for e in world.auditor.events if e.action in changes][-3:]
    assert [e.action for e in token_events] == list(changes)
    assert all(e.actor.slack_id == "UADMIN" for e in token_events)
    assert world.notices.sent == [("extended", "U1"), ("unlocked", "U5"), ("reset", "U1")]


async def test_actions_refuse_bad_input_and_missing_tokens(world: World) -> None:
    await seed(world)
    admin = await world.access.require("UADMIN", "token.extend")
    for days in (0, -1, 366):
        with refused(InputError, match="from 1 to 365"):
            await world.actions.extend(admin, "U1", days)
    with refused(InputError, match="280"):
        await world.actions.unlock(admin, "U5", "x" * 281)
    with pytest.raises(NotFound):
        await world.actions.extend(admin, "U7", 5)  # never enrolled
    with pytest.raises(NotFound):
        await world.actions.reset(admin, "U6")  # already revoked
    with pytest.raises(NotFound):
        await world.actions.unlock(admin, "U404")
    assert not [e for e in world.auditor.events if e.action.startswith("admin.token.")]
    assert world.notices.sent == []


# --- the CSV ------------------------------------------------------------------------------


async def test_csv_has_every_column_and_no_secret(world: World) -> None:
    secrets = await seed(world)
    admin = await world.access.require("UADMIN", "tokens.export")
    export = await world.inventory.export(admin)
    rows = list(csv.DictReader(io.StringIO(export.content)))
    assert tuple(rows[0]) == CSV_COLUMNS and export.rows == len(rows) == 7
    ada = next(r for r in rows if r["slack_user_id"] == "U1")
    assert ada["slack_name"] == "Ada Slack" and ada["atlassian_name"] == "Ada One"
    assert ada["atlassian_email"] == "u1@acme.com" and ada["link_state"] == "ok"
    assert ada["approval_token_state"] == "active" and ada["expires_at_utc"].endswith("Z")
    assert ada["enrolled_at_utc"] == "2026-11-23T09:00:00Z" and ada["failed_attempts"] == "0"
    # A name that a spreadsheet would run as a formula is defused.
    assert next(r for r in rows if r["slack_user_id"] == "U2")["slack_name"].startswith("'=")
    assert next(r for r in rows if r["slack_user_id"] == "U3")["link_state"] == "broken"
    for secret in secrets.values():
        assert secret not in export.content
    assert "access-" not in export.content and "refresh-" not in export.content
    assert world.auditor.events[-1].action == "admin.tokens.export"


def test_csv_of_nobody_is_the_header() -> None:
    assert token_csv([], T0).strip() == ",".join(CSV_COLUMNS)


# --- the audit review ---------------------------------------------------------------------


async def test_audit_overview_keeps_the_newest_and_checks_the_whole_chain(world: World) -> None:
    log = InMemoryAuditLog()
    trail = AuditTrail(log, world.clock)
    for n in range(30):
        world.clock.set(T0 + timedelta(days=n))
        await trail.record(AuditEvent(Actor("U1", None, "Ada"), f"test.{n}", meaning="m"))
    review = AuditReview(log=log, keys=log.keys, auditor=trail, clock=world.clock)
    admin = await world.access.require("UADMIN", "audit.view")
    overview = await review.overview(admin, date(2026, 12, 10))
    assert overview.verification.ok and overview.verification.checked == 30
    assert overview.matched == 13 and len(overview.entries) == 13
    assert overview.entries[0].action == "test.17"
    everything = await review.overview(admin, None)
    assert len(everything.entries) == 20 and everything.entries[-1].action == "test.29"

    export = await review.export(admin, date(2026, 12, 20), ExportFormat.JSONL)
    assert export.entries == 3 and len(export.content.splitlines()) == 3
    assert export.filename.startswith("audit-trail-since-2026-12-20-")
    assert export.filename.endswith(".jsonl")
    last = [e async for e in log.entries()][-1]
    assert last.action == "admin.audit.export" and last.actor_slack_id == "UADMIN"


def test_an_entry_shows_name_utc_time_and_meaning() -> None:
    entry = AuditEntry(
        seq=7,
        at="2026-11-23T09:00:05.123456Z",
        actor_slack_id="U1",
        actor_name="Ada <One>",
        action="signature.approved",
        meaning="I approve submitting these 3 pages for review",
        prev_hash="0" * 64,
        hash="1" * 64,
    )
    line = entry_line(entry)
    assert "2026-11-23 09:00:05 UTC" in line and "*Ada &lt;One&gt;*" in line
    assert "meaning: _I approve submitting these 3 pages for review_" in line


# --- command text and private_metadata ------------------------------------------------------


def test_tokens_arguments() -> None:
    assert parse_tokens_args([]).selection == Selection()
    for kind in ("active", "expiring", "expired", "pending", "locked", "unlinked", "ALL"):
        assert parse_tokens_args([kind]).selection == Selection(Filter(kind.lower()))
    assert parse_tokens_args(["export"]).export
    assert parse_tokens_args(["<@U0ALICE|alice>"]).selection == Selection.of_user("U0ALICE")
    assert parse_tokens_args(["<@W0ALICE>"]).selection == Selection.of_user("W0ALICE")
    # A display name with a space was cut by the split; it is still one mention.
    assert parse_tokens_args(["<@U0ALICE|alice", "anders>"]).selection.user == "U0ALICE"
    with refused(InputError, match="`bogus` is not something `/approvals tokens`"):
        parse_tokens_args(["bogus"])
    with refused(InputError, match="`user` is not something"):
        parse_tokens_args(["user"])
    with refused(InputError, match="not `active locked`"):
        parse_tokens_args(["active", "locked"])
    with refused(InputError, match="pick the person"):
        parse_tokens_args(["@alice"])


def test_audit_arguments() -> None:
    assert parse_audit_args([]) == parse_audit_args([])
    plain = parse_audit_args([])
    assert (plain.export, plain.since, plain.format) == (False, None, ExportFormat.CSV)
    full = parse_audit_args(["export", "--since", "2026-01-31", "--format", "JSONL"])
    assert (full.export, full.since, full.format) == (True, date(2026, 1, 31), ExportFormat.JSONL)
    assert parse_audit_args(["--since=2026-02-01"]).since == date(2026, 2, 1)
    problems = {
        ("--since", "31/01/2026"): "`31/01/2026` is not a date",
        ("--since", "20260131"): "`20260131` is not a date",
        ("--since",): "`--since` needs a value",
        ("--format", "csv"): "`--format` goes with `/approvals audit export`",
        ("export", "--format", "pdf"): "`pdf` is not an export format",
        ("export", "export"): "`export` is given twice",
        ("everything",): "`everything` is not something `/approvals audit`",
    }
    for args, problem in problems.items():
        with pytest.raises(InputError) as caught:
            parse_audit_args(list(args))
        assert problem in str(caught.value)


def test_metadata_round_trips_and_forgeries_fall_back() -> None:
    state = ListingState(Selection(Filter.LOCKED), 3)
    assert ListingState.decode(state.encode()) == state
    user = ListingState(Selection.of_user("U1"))
    assert ListingState.decode(user.encode()) == user
    for garbage in ("", "{", "[]", '{"f":"nope"}', '{"f":"user"}', '{"p":"x"}'):
        assert ListingState.decode(garbage) == ListingState()
    assert ListingState.decode('{"f":"all","p":-4}').page == 0
    confirm = ConfirmState(TokenAction.RESET, "U1", "V1", "h1", state)
    assert ConfirmState.decode(confirm.encode()) == confirm
    assert ConfirmState.decode('{"a":"enrol","u":"U1"}') is None
    assert ConfirmState.decode("not json") is None
    assert parse_row_action("unlock:U7") == (TokenAction.UNLOCK, "U7")
    assert parse_row_action("enrol:U7") is None


# --- Block Kit ------------------------------------------------------------------------------


async def test_every_page_of_hundreds_is_valid_block_kit(world: World) -> None:
    for n in range(230):
        await world.tokens.start_enrolment(f"U{n:04d}", "x@example.com")
    admin = await world.access.require("UADMIN", "tokens.list")
    roster = await world.inventory.roster(admin)
    total = pages(230)
    assert total == -(-230 // PAGE_SIZE)
    seen: list[str] = []
    for page in range(total + 1):  # one past the end is shown as the last page
        view = noted_view(listing_view(roster, ListingState(Selection(), page)))
        assert view_problems(view) == [], page
        assert len(view["private_metadata"]) < 100
        rows = [b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith("row:")]
        if page < total:
            seen += rows
    assert len(seen) == len(set(seen)) == 230
    empty = listing_view(roster, ListingState(Selection(Filter.LOCKED)))
    assert view_problems(empty) == [] and "Nobody matches" in json.dumps(empty)


async def test_confirmations_are_valid_and_hold_no_secret(world: World) -> None:
    secrets = await seed(world)
    admin = await world.access.require("UADMIN", "token.extend")
    for action in TokenAction:
        one = await world.inventory.one(admin, "U5")
        state = ConfirmState(action, "U5", "V1", "h", ListingState())
        view = noted_view(confirm_view(one.rows[0], state, one.taken_at))
        assert view_problems(view) == [], action
        text = json.dumps(view)
        assert all(secret not in text for secret in secrets.values())
        has_days = any(b.get("block_id") == "days" for b in view["blocks"])
        assert has_days is (action is TokenAction.EXTEND)
