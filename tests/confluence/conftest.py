"""The sandbox on a free port (from the ApprovalFlow tests' harness) and a Confluence client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from services.confluence import ConfluenceClient, ConfluenceSettings
from tests.approvalflow.conftest import Harness, SandboxVault, af  # noqa: F401  (fixture)
from tests.sandbox.conftest import ALL_SCOPES

WITH_CONFLUENCE = ALL_SCOPES


@dataclass
class Confluence:
    af: Harness
    client: ConfluenceClient

    @property
    def vault(self) -> SandboxVault:
        return self.af.vault


@pytest.fixture
async def cf(af: Harness) -> AsyncIterator[Confluence]:  # noqa: F811
    await af.vault.link("U0ALICE", "alice@example.com", WITH_CONFLUENCE)
    client = ConfluenceClient(
        ConfluenceSettings(api_url=af.url, timeout_seconds=5.0),
        af.vault,
        clock=af.state,
        sleep=_recorder(af.sleeps),
        jitter=lambda: 0.5,
    )
    try:
        yield Confluence(af, client)
    finally:
        await client.aclose()


def _recorder(sleeps: list[float]):  # type: ignore[no-untyped-def]
    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    return no_wait
