"""The bot in playground mode (no Slack credentials), served on a free port for a test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.scenario.harness import RunningBot, playground_environment, running_bot


@pytest.fixture
async def playground_bot(redis_url: str, redis: object) -> AsyncIterator[RunningBot]:
    async with running_bot(playground_environment(redis_url)) as bot:
        assert bot.container.playground is not None
        yield bot
