"""A running sandbox per test (uvicorn on a free 127.0.0.1 port) and a helper that links a user."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from emulators.approvalflow import SandboxState, sandbox_server
from emulators.approvalflow.seed import SITE_ID
from services.outbound_tls import shared_tls_context
from testkit.browser import consent_form
from testkit.redis_server import free_port
from tests.fakes.clock import FakeClock

CLIENT_ID = "approvals-bot-test"
CLIENT_SECRET = "test-client-secret"
REDIRECT_URI = "http://127.0.0.1:9/atlassian/callback"
# What a link made before the bot asked for Confluence's scopes holds.
APPROVALFLOW_SCOPES = (
    "read:me offline_access read:forge-app:confluence read:change-set:custom "
    "write:change-set:custom read:approval:custom write:approval:custom"
)
ALL_SCOPES = f"{APPROVALFLOW_SCOPES} read:page:confluence read:space:confluence"
API = f"/svc/confluence/{SITE_ID}/apps/af-app_af-env"


@dataclass
class Sandbox:
    """The state (to arrange and inspect), its clock, and an HTTP client on its base URL."""

    state: SandboxState
    clock: FakeClock
    http: httpx.AsyncClient

    async def consent(
        self, who: str = "alice@example.com", scope: str = ALL_SCOPES, **extra: str
    ) -> str:
        """Open the authorize page, pick `who`, press Allow; returns the code."""
        params = {
            "audience": "api.atlassian.com",
            "client_id": CLIENT_ID,
            "scope": scope,
            "redirect_uri": REDIRECT_URI,
            "state": "st-123",
            "response_type": "code",
            "prompt": "consent",
            **extra,
        }
        page = await self.http.get("authorize", params=params)
        assert page.status_code == 200, page.text
        action, fields = consent_form(page.text)
        fields["account_id"] = self.state.user(who).account_id
        # Resolve the form action against the page's URL, as a browser does.
        answer = await self.http.post(page.url.join(action), data={**fields, "decision": "allow"})
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["state"] == ["st-123"]
        return query["code"][0]

    async def exchange(self, code: str) -> httpx.Response:
        return await self.http.post(
            "oauth/token",
            data={
                "grant_type": "authorization_code",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "code": code,
                "redirect_uri": REDIRECT_URI,
            },
        )

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.http.post(
            "oauth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": refresh_token,
            },
        )

    async def link(self, who: str = "alice@example.com", scope: str = ALL_SCOPES) -> dict[str, Any]:
        """The whole 3LO dance; returns the token response."""
        answer = await self.exchange(await self.consent(who, scope))
        assert answer.status_code == 200, answer.text
        tokens: dict[str, Any] = answer.json()
        return tokens

    async def bearer(self, who: str = "alice@example.com", scope: str = ALL_SCOPES) -> str:
        return str((await self.link(who, scope))["access_token"])


@asynccontextmanager
async def serving(server: uvicorn.Server) -> AsyncIterator[None]:
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why the server did not start
        await asyncio.sleep(0.005)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def app_server(app: ASGIApp, port: int) -> uvicorn.Server:
    """A uvicorn server for any ASGI app (the sandbox mounted inside another app)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[Sandbox]:
    state = SandboxState(clock=clock)
    port = free_port()
    async with (
        serving(sandbox_server("127.0.0.1", port, state, shutdown_seconds=1)),
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}/", timeout=5, verify=shared_tls_context()
        ) as http,
    ):
        yield Sandbox(state=state, clock=clock, http=http)
