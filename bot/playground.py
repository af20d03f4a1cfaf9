"""Playground mode: without Slack credentials the bot serves an emulated workspace of its own.

The bot talks to it exactly as to Slack: a bot token and signing secret generated at start, the
Web API at SLACK_API_URL (the emulator mounted under /playground in this very app), and every
command, click and submission arriving signed at /slack/events. The workspace is kept in
DATA_DIR/playground.json across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from emulators.slack import FakeSlack
from emulators.slack.delivery import AppDelivery
from emulators.slack.persist import load, save
from emulators.slack.playground.seed import TEAM_ID, TEAM_NAME, seed_workspace

# Slack bot tokens start so; the rest is random and lives only as long as the process.
BOT_TOKEN_PREFIX = "xoxb-" + "playground-"

log = logging.getLogger(__name__)

PLAYGROUND_MOUNT = "/playground"
SAVE_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class SlackAccess:
    """Where the bot reaches Slack and how it proves requests came from there."""

    bot_token: str
    signing_secret: str
    api_url: str


@dataclass
class Playground:
    """The emulated workspace, and the way a person's actions reach the bot."""

    slack: FakeSlack
    delivery: AppDelivery
    path: Path
    sandbox_url: str
    dirty: bool = False

    def mark(self) -> None:
        self.dirty = True

    async def keep_saved(self) -> None:
        """Save the workspace within a second of any change, until cancelled."""
        while True:
            await asyncio.sleep(SAVE_EVERY_SECONDS)
            self.flush()

    def flush(self) -> None:
        if self.dirty:
            self.dirty = False
            save(self.slack, self.path)


def slack_access(settings: Settings, playground: Playground | None) -> SlackAccess:
    if settings.SLACK_BOT_TOKEN is not None and settings.SLACK_SIGNING_SECRET is not None:
        return SlackAccess(
            settings.SLACK_BOT_TOKEN.get_secret_value(),
            settings.SLACK_SIGNING_SECRET.get_secret_value(),
            settings.SLACK_API_URL,
        )
    if playground is None:  # Settings refuses one credential without the other
        raise RuntimeError("no Slack credentials and no playground")
    [token] = playground.slack.valid_tokens or {""}
    return SlackAccess(token, playground.delivery.signing_secret, playground.slack.api_url)


async def make_playground(
    settings: Settings, stack: AsyncExitStack, *, sandbox_mount: str
) -> Playground | None:
    """The workspace, its generated credentials, and its saving; None with Slack credentials."""
    if not settings.playground:
        return None
    local = f"http://127.0.0.1:{settings.PORT}"
    token = BOT_TOKEN_PREFIX + secrets.token_hex(16)
    slack = FakeSlack(
        team_id=TEAM_ID, team_name=TEAM_NAME, tokens=[token], bot_user_id="U0APPROVALS"
    )
    slack.mount_at(f"{local}{PLAYGROUND_MOUNT}")
    path = settings.DATA_DIR / "playground.json"
    if not load(slack, path):
        seed_workspace(slack)
    delivery = AppDelivery(
        slack,
        request_url=f"{local}/slack/events",
        signing_secret=secrets.token_hex(32),
    )
    stack.push_async_callback(delivery.aclose)
    playground = Playground(slack, delivery, path, sandbox_url=sandbox_mount)
    playground.mark()
    slack.on_change(playground.mark)
    saver = asyncio.create_task(playground.keep_saved(), name="playground-save")

    async def stop_saving() -> None:
        saver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await saver
        playground.flush()

    stack.push_async_callback(stop_saving)
    log.info("playground", extra={"workspace": str(path)})
    return playground
