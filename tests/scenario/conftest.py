"""The scenario tests' usual world: the bot over HTTP against the emulators, Alice and Bob linked
and enrolled; a module that needs another world defines a `world` of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulators.slack import FakeSlack
from tests.fakes.clock import FakeClock
from tests.scenario.requests_kit import Requests, requests_world


@pytest.fixture
async def world(
    fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock
) -> AsyncIterator[Requests]:
    async with requests_world(fake_slack, redis_url, clock) as world:
        await world.ready("U0ALICE", "U0BOB")
        yield world
