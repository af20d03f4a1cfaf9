"""Linking wired for unit tests: in-memory stores, the sandbox in process over httpx's ASGI
transport (so every call goes through real HTTP handling), and inspectable notices and audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from emulators.approvalflow import SandboxState, create_sandbox_app
from services.audit.trail import AuditTrail
from services.errors import UpstreamUnavailable
from services.linking import (
    AccountLinking,
    AtlassianEndpoints,
    AtlassianOAuth,
    ClientCredentials,
    LinkStatus,
    SealedGrants,
    TokenVault,
)
from services.linking.models import REQUESTED_SCOPES, AuthorizationReply, Grant
from services.secretbox import SecretBox, new_key
from tests.fakes.audit_log import InMemoryAuditLog
from tests.fakes.clock import FakeClock
from tests.fakes.linking import MemoryGrantStore, MemoryLinkStates
from tests.fakes.stores import MemoryLeases

CLIENT = ClientCredentials(
    "kit-client", "kit-client-secret", "http://127.0.0.1:9/atlassian/callback"
)
BASE = "http://sandbox.test"
ENDPOINTS = AtlassianEndpoints(f"{BASE}/authorize", f"{BASE}/oauth/token", BASE)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    email: str | None
    is_admin: bool = False
    deleted: bool = False


class FakeDirectory:
    def __init__(self) -> None:
        self.people: dict[str, Person] = {}

    def add(self, user_id: str, email: str | None) -> None:
        self.people[user_id] = Person(user_id, user_id, email)

    async def user(self, user_id: str) -> Person:
        return self.people[user_id]


@dataclass
class RecordingNotices:
    sent: list[tuple[str, str, LinkStatus]] = field(default_factory=list)
    fail: bool = False

    async def linked(self, user_id: str, link: LinkStatus) -> None:
        await self._note("linked", user_id, link)

    async def broken(self, user_id: str, link: LinkStatus) -> None:
        await self._note("broken", user_id, link)

    async def _note(self, kind: str, user_id: str, link: LinkStatus) -> None:
        if self.fail:
            raise UpstreamUnavailable("Slack is down")
        self.sent.append((kind, user_id, link))


class SwitchTransport(httpx.AsyncBaseTransport):
    """The sandbox in process; `intercept` may answer (or act and then defer) per request."""

    def __init__(self, state: SandboxState) -> None:
        self.sandbox = httpx.ASGITransport(app=create_sandbox_app(state))
        self.intercept: Callable[[httpx.Request, Handler], Awaitable[httpx.Response]] | None = None
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.intercept is not None:
            return await self.intercept(request, self.sandbox.handle_async_request)
        return await self.sandbox.handle_async_request(request)


@dataclass
class Kit:
    clock: FakeClock
    state: SandboxState
    transport: SwitchTransport
    store: MemoryGrantStore
    states: MemoryLinkStates
    leases: MemoryLeases
    box: SecretBox
    audit_log: InMemoryAuditLog
    notices: RecordingNotices
    directory: FakeDirectory
    grants: SealedGrants
    atlassian: AtlassianOAuth
    linking: AccountLinking
    vault: TokenVault

    def another_vault(self, **options: float) -> TokenVault:
        """A second vault on the same store and leases: another process, in process."""
        return TokenVault(
            atlassian=self.atlassian,
            grants=self.grants,
            leases=self.leases,
            clock=self.clock,
            notices=self.notices,
            auditor=AuditTrail(self.audit_log, self.clock),
            **options,
        )

    async def consent(
        self, user_id: str, who: str, scopes: tuple[str, ...] = REQUESTED_SCOPES
    ) -> str:
        """connect, then the person allows as `who`: the state and code the callback gets."""
        start = await self.linking.start("T1", user_id)
        query = parse_qs(urlsplit(start.authorize_url).query)
        code = self.state.authorize(
            client_id=CLIENT.client_id,
            redirect_uri=CLIENT.redirect_uri,
            who=who,
            scopes=list(scopes),
        )
        return f"{query['state'][0]} {code}"

    async def link(self, user_id: str = "U1", who: str = "alice@example.com") -> Grant:
        self.directory.people.setdefault(user_id, Person(user_id, user_id, who))
        state, code = (await self.consent(user_id, who)).split()
        await self.linking.complete(AuthorizationReply(state=state, code=code))
        grant = await self.grants.get(user_id)
        assert grant is not None
        return grant

    async def expire(self, user_id: str = "U1") -> None:
        """Move the clock to 30 s before the stored token expires (inside the 60 s margin)."""
        grant = await self.grants.get(user_id)
        assert grant is not None
        self.clock.set(grant.expires_at - timedelta(seconds=30))


def make_kit(clock: FakeClock, *, require_email_match: bool = True, **vault_options: float) -> Kit:
    state = SandboxState(clock=clock, clients={CLIENT.client_id: CLIENT.client_secret})
    transport = SwitchTransport(state)
    store, states, leases = MemoryGrantStore(), MemoryLinkStates(clock), MemoryLeases(clock)
    box = SecretBox([new_key()])
    audit_log = InMemoryAuditLog()
    auditor = AuditTrail(audit_log, clock)
    notices, directory = RecordingNotices(), FakeDirectory()
    grants = SealedGrants(store, box)
    atlassian = AtlassianOAuth(ENDPOINTS, CLIENT, transport=transport)
    linking = AccountLinking(
        atlassian=atlassian,
        grants=grants,
        states=states,
        clock=clock,
        directory=directory,
        notices=notices,
        auditor=auditor,
        site_url="https://sandbox.atlassian.net/",
        require_email_match=require_email_match,
    )
    vault = TokenVault(
        atlassian=atlassian,
        grants=grants,
        leases=leases,
        clock=clock,
        notices=notices,
        auditor=auditor,
        **vault_options,
    )
    return Kit(
        clock, state, transport, store, states, leases, box, audit_log, notices, directory,
        grants, atlassian, linking, vault,
    )  # fmt: skip
