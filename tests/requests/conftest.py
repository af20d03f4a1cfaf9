"""The requests service over HTTP against the sandbox: real client, real Approval Tokens, fakes for
Slack (publisher, user groups) and the linking service (identities read from the sandbox vault).

`World` builds services on the in-memory stores or on Redis (`redis_world`), so a second service
instance over the same Redis plays a second process or a restarted bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.stores.approval_token import RedisTokenStore
from bot.stores.audit import RedisAuditLog
from bot.stores.keys import Keys
from bot.stores.requests import RedisRequestStore
from handlers.blocks.outcomes import kept_note, words
from services.approval_token import ApprovalTokens
from services.approval_token.ports import TokenStore
from services.approvalflow.gateway import Sleep
from services.approvalflow.ports import ApprovalFlowApi
from services.audit.keys import AuditKeyring
from services.audit.ports import AuditLog
from services.audit.trail import AuditTrail
from services.confluence import ConfluenceClient, ConfluenceSettings
from services.errors import NotLinked
from services.requests.model import ApprovalRequest, Decision
from services.requests.outcomes import Outcome
from services.requests.policies import DEFAULT_BOOK, PolicyBook
from services.requests.ports import LinkedIdentity
from services.requests.service import Requests
from services.requests.settings import RequestSettings
from services.requests.store import RequestStore
from services.secretbox import SecretBox, new_key
from testkit.rfc6238 import code_for_step
from tests.approvalflow.conftest import ALICE_SLACK, Harness, SandboxVault, af
from tests.fakes.approval_token_store import MemoryTokenStore
from tests.fakes.audit_log import InMemoryAuditLog
from tests.fakes.clock import FakeClock
from tests.fakes.request_store import MemoryRequestStore
from tests.sandbox.conftest import ALL_SCOPES

__all__ = ["af"]  # the sandbox fixture, re-exported for this package's tests

BOB_SLACK, CAROL_SLACK, DAVE_SLACK = "U0BOB", "U0CAROL", "U0DAVE"
CHANNEL = "C0DOCS"
EMAILS = {
    ALICE_SLACK: "alice@example.com",
    BOB_SLACK: "bob@example.com",
    CAROL_SLACK: "carol@example.com",
    DAVE_SLACK: "dave@example.com",
}
NO_WRITE = " ".join(s for s in ALL_SCOPES.split() if not s.startswith("write:"))


class SandboxIdentities:
    """`Identities` as the linking service will answer: the vault's link, the sandbox's name."""

    def __init__(self, vault: SandboxVault) -> None:
        self._vault = vault

    async def slack_user_of(self, account_id: str) -> str | None:
        return next(
            (
                u
                for u, link in self._vault.links.items()
                if link.credential.account_id == account_id
            ),
            None,
        )

    async def identity(self, user_id: str) -> LinkedIdentity:
        link = self._vault.links.get(user_id)
        if link is None:
            raise NotLinked()
        account = self._vault.sandbox.state.user(link.credential.account_id)
        return LinkedIdentity(
            account_id=account.account_id,
            name=account.name,
            email=account.email,
            scopes=link.credential.scopes,
        )


@dataclass
class RecordingPublisher:
    """`Publisher` that records what Slack would show; each request gets one message ts."""

    published: list[ApprovalRequest] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    dms: list[tuple[str, str, str]] = field(default_factory=list)

    async def publish(self, request: ApprovalRequest) -> str:
        self.published.append(request)
        return request.message_ts or f"1700000000.{len(self.published):06d}"

    async def report(self, outcome: Outcome) -> None:
        told = words(outcome)
        self.notes.extend((outcome.request.id, text) for text in told.thread)
        if told.dm is not None:
            self.dms.append((outcome.request.requester, outcome.request.id, told.dm))

    def kept_note(self, outcome: Outcome) -> str:
        return kept_note(outcome)

    def last(self, request_id: str) -> ApprovalRequest:
        return [r for r in self.published if r.id == request_id][-1]

    def notes_for(self, request_id: str) -> list[str]:
        return [text for rid, text in self.notes if rid == request_id]


@dataclass
class FakeGroups:
    groups: dict[str, frozenset[str]] = field(default_factory=dict)

    async def members(self, group_id: str) -> frozenset[str]:
        return self.groups.get(group_id, frozenset())


class NoAlerts:
    def __init__(self) -> None:
        self.locked: list[str] = []

    async def user_locked(self, user: str, until: Any) -> None:
        self.locked.append(user)


@dataclass
class World:
    """One sandbox, the stores, and as many service instances over them as a test wants."""

    af: Harness
    clock: FakeClock  # the bot's and the sandbox's
    token_clock: FakeClock  # the Approval Token's own, so codes and expiry move apart
    store: RequestStore
    token_store: TokenStore
    audit_log: AuditLog
    redis: Redis | None
    box: SecretBox = field(default_factory=lambda: SecretBox([new_key()]))
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    groups: FakeGroups = field(default_factory=FakeGroups)
    alerts: NoAlerts = field(default_factory=NoAlerts)
    secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        async def no_wait(seconds: float) -> None:
            self.af.sleeps.append(seconds)  # a backoff is recorded, never waited out

        self.confluence = ConfluenceClient(
            ConfluenceSettings(api_url=self.af.url), self.af.vault, clock=self.clock, sleep=no_wait
        )
        self.tokens = self.make_tokens()
        self.service = self.make_service()

    @property
    def sandbox(self) -> Any:
        return self.af.state

    def make_tokens(self) -> ApprovalTokens:
        return ApprovalTokens(
            store=self.token_store,
            box=self.box,
            clock=self.token_clock,
            auditor=AuditTrail(self.audit_log, self.token_clock),
            alerts=self.alerts,
            validity_days=30,
            max_failures=5,
            lockout_minutes=15,
        )

    def make_service(
        self,
        *,
        api: ApprovalFlowApi | None = None,
        store: RequestStore | None = None,
        tokens: ApprovalTokens | None = None,
        audit_log: AuditLog | None = None,
        policies: PolicyBook = DEFAULT_BOOK,
        sleep: Sleep | None = None,
        **settings: Any,
    ) -> Requests:
        return Requests(
            store=store or self.store,
            api=api or self.af.client,
            tokens=tokens or self.tokens,
            identities=SandboxIdentities(self.af.vault),
            groups=self.groups,
            publisher=self.publisher,
            auditor=AuditTrail(audit_log or self.audit_log, self.clock),
            clock=self.clock,
            settings=RequestSettings(
                confluence_site_url="https://sandbox.atlassian.net", **settings
            ),
            confluence=self.confluence,
            policies=policies,
            sleep=sleep or asyncio.sleep,
        )

    def redis_stores(self, redis: Redis) -> tuple[RequestStore, TokenStore, AuditLog]:
        """New adapters over the same Redis: what another process would have."""
        keys = Keys("test:")
        return (
            RedisRequestStore(redis, keys),
            RedisTokenStore(redis, keys),
            RedisAuditLog(redis, keys, AuditKeyring.throwaway()),
        )

    async def link(self, user: str, who: str, scope: str = ALL_SCOPES) -> None:
        await self.af.vault.link(user, who, scope)

    async def enrol(self, user: str) -> None:
        enrolment = await self.tokens.start_enrolment(user, EMAILS.get(user, f"{user}@x.test"))
        self.secrets[user] = enrolment.setup_key
        await self.tokens.activate(user, self.code(user))

    async def reviewer(self, user: str, who: str, scope: str = ALL_SCOPES) -> None:
        await self.link(user, who, scope)
        await self.enrol(user)

    def code(self, user: str) -> str:
        """The user's current code, one time step after the last one handed out (each step is
        accepted once per user)."""
        self.token_clock.advance(seconds=30)
        return self.current_code(user)

    def current_code(self, user: str) -> str:
        if user not in self.secrets:
            return "123456"  # not enrolled: any well-formed code
        step = int(self.token_clock.now().timestamp()) // 30
        return code_for_step(self.secrets[user], step)

    def wrong_code(self, user: str) -> str:
        step = int(self.token_clock.now().timestamp()) // 30
        near = {code_for_step(self.secrets[user], step + d) for d in (-1, 0, 1)}
        return next(c for c in ("000000", "111111", "222222") if c not in near)

    async def request(
        self,
        target: str = "cs-eng184",
        reviewers: Sequence[str] = (BOB_SLACK,),
        groups: Sequence[str] = (),
        requester: str = ALICE_SLACK,
        service: Requests | None = None,
    ) -> ApprovalRequest:
        return await (service or self.service).create(
            requester, target, tuple(reviewers), tuple(groups), CHANNEL
        )

    async def approve(
        self,
        request: ApprovalRequest,
        user: str,
        *,
        comment: str = "Checked every page.",
        service: Requests | None = None,
    ) -> ApprovalRequest:
        service = service or self.service
        form = await service.open_for_signing(request.id, user, Decision.APPROVE)
        signed = await service.sign(
            request.id, user, Decision.APPROVE, self.code(user), comment, form.snapshot.digest
        )
        return signed.request

    def audit_actions(self) -> list[str]:
        assert isinstance(self.audit_log, InMemoryAuditLog)
        return self.audit_log.actions()


@pytest.fixture
async def world(af: Harness, clock: FakeClock) -> AsyncIterator[World]:
    """Alice (the requester, linked by `af`) and Bob (linked and enrolled) on in-memory stores."""
    w = World(
        af=af,
        clock=clock,
        token_clock=FakeClock(clock.now()),
        store=MemoryRequestStore(),
        token_store=MemoryTokenStore(),
        audit_log=InMemoryAuditLog(),
        redis=None,
    )
    await w.enrol(ALICE_SLACK)
    await w.reviewer(BOB_SLACK, "bob@example.com")
    yield w
    await w.confluence.aclose()


@pytest.fixture
async def redis_world(af: Harness, clock: FakeClock, redis: Redis) -> AsyncIterator[World]:
    """As `world`, on the Redis adapters over the throwaway redis-server."""
    keys = Keys("test:")
    w = World(
        af=af,
        clock=clock,
        token_clock=FakeClock(clock.now()),
        store=RedisRequestStore(redis, keys),
        token_store=RedisTokenStore(redis, keys),
        audit_log=InMemoryAuditLog(),
        redis=redis,
    )
    await w.enrol(ALICE_SLACK)
    await w.reviewer(BOB_SLACK, "bob@example.com")
    yield w
    await w.confluence.aclose()
