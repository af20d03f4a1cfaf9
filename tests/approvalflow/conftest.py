"""The ApprovalFlow sandbox on a free 127.0.0.1 port, a vault fake fed by its 3LO, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from bot.http_transport import AiohttpExchange
from emulators.approvalflow import SandboxState, sandbox_server
from emulators.approvalflow.seed import SITE_ID
from services.approvalflow import ApprovalFlowClient, ApprovalFlowSettings
from services.approvalflow.client import MAX_CONNECTIONS
from services.errors import LinkBroken, NotLinked
from services.outbound_tls import shared_tls_context
from services.ports import Credential
from testkit.redis_server import free_port
from tests.fakes.clock import FakeClock
from tests.sandbox.conftest import ALL_SCOPES, Sandbox, serving

APP_ID, ENV_ID = "af-app", "af-env"
ALICE_SLACK = "U0ALICE"
BOB_SLACK = "U0BOB"


@dataclass
class _Link:
    credential: Credential
    refresh_token: str


@dataclass
class SandboxVault:
    """An in-memory `Credentials` whose tokens come from the sandbox's real token endpoint;
    it records every `after_rejection` so tests can count refreshes."""

    sandbox: Sandbox
    links: dict[str, _Link] = field(default_factory=dict)
    rejections: list[str] = field(default_factory=list)

    async def link(
        self,
        user_id: str,
        who: str = "alice@example.com",
        scope: str = ALL_SCOPES,
        cloud_id: str = SITE_ID,
    ) -> Credential:
        tokens = await self.sandbox.link(who, scope)
        credential = Credential(
            access_token=tokens["access_token"],
            cloud_id=cloud_id,
            account_id=self.sandbox.state.user(who).account_id,
            scopes=frozenset(tokens["scope"].split()),
        )
        self.links[user_id] = _Link(credential, tokens.get("refresh_token", ""))
        return credential

    async def access_token_for(self, user_id: str) -> Credential:
        link = self.links.get(user_id)
        if link is None:
            raise NotLinked()
        return link.credential

    async def after_rejection(self, user_id: str, rejected: Credential) -> Credential:
        self.rejections.append(user_id)
        link = self.links[user_id]
        if link.credential.access_token != rejected.access_token:
            return link.credential  # another caller refreshed already
        answer = await self.sandbox.refresh(link.refresh_token)
        if answer.status_code != 200:
            raise LinkBroken()
        tokens = answer.json()
        link.credential = Credential(
            access_token=tokens["access_token"],
            cloud_id=link.credential.cloud_id,
            account_id=link.credential.account_id,
            scopes=frozenset(tokens["scope"].split()),
        )
        link.refresh_token = tokens["refresh_token"]
        return link.credential


@dataclass
class Harness:
    """The running sandbox, the vault (Alice linked as U0ALICE), a client and its sleeps."""

    sandbox: Sandbox
    vault: SandboxVault
    client: ApprovalFlowClient
    sleeps: list[float]
    url: str
    make_client: Callable[..., ApprovalFlowClient]

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state


@pytest.fixture(params=["httpx", "aiohttp"])
async def af(clock: FakeClock, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """Every client test runs over httpx's own transport and over the bot's (aiohttp)."""
    state = SandboxState(clock=clock)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sleeps: list[float] = []

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)  # tests never wait out a backoff

    async with (
        serving(sandbox_server("127.0.0.1", port, state, shutdown_seconds=1)),
        httpx.AsyncClient(base_url=url + "/", timeout=5, verify=shared_tls_context()) as http,
    ):
        sandbox = Sandbox(state=state, clock=clock, http=http)
        vault = SandboxVault(sandbox)
        await vault.link(ALICE_SLACK, "alice@example.com")
        clients: list[ApprovalFlowClient] = []

        def make_client(**overrides: object) -> ApprovalFlowClient:
            if request.param == "aiohttp" and "transport" not in overrides:
                overrides["exchange"] = AiohttpExchange(
                    connections=MAX_CONNECTIONS, tls=shared_tls_context()
                )
            settings = ApprovalFlowSettings(
                api_url=str(overrides.pop("api_url", url)),
                app_id=APP_ID,
                env_id=ENV_ID,
                base_url=overrides.pop("base_url", None),  # type: ignore[arg-type]
                timeout_seconds=float(overrides.pop("timeout_seconds", 5.0)),  # type: ignore[arg-type]
            )
            client = ApprovalFlowClient(
                settings,
                vault,
                clock=state,  # the sandbox's clock, so a Retry-After date reads the same
                sleep=no_wait,
                jitter=lambda: 0.5,  # the middle of 0.7-1.3: a factor of exactly 1
                **overrides,  # type: ignore[arg-type]
            )
            clients.append(client)
            return client

        try:
            yield Harness(sandbox, vault, make_client(), sleeps, url, make_client)
        finally:
            for client in clients:
                await client.aclose()
