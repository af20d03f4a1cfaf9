"""Two bots on one Redis Cluster: one served inside the test (so it can be inspected), one a real
`approvals-bot serve` child process; both reach the same fake Slack and the same sandbox.

The second process gets the same ENCRYPTION_KEYS, REDIS_URL and REDIS_PREFIX and points its
Atlassian endpoints at the first bot's mounted sandbox, so the two share everything a deployment
of several processes shares (the store, Slack, ApprovalFlow) and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from emulators.slack import FakeSlack
from testkit.redis_server import free_port
from tests.fakes.clock import FakeClock
from tests.scenario.harness import RunningBot, bot_environment, running_bot
from tests.scenario.requests_kit import PEOPLE, TEAM, Requests
from tests.scenario.test_linking import Linking

ROOT = Path(__file__).resolve().parents[2]
_SETUP_KEY = re.compile(r"`([A-Z2-7 ]{16,})`")


class WallClock(FakeClock):
    """The wall clock, which a test may still move forward: the child process keeps real time,
    and the one-time codes both bots check must agree on the 30 s step."""

    def __init__(self) -> None:
        super().__init__()
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, **delta: float) -> datetime:
        self._offset += timedelta(**delta)
        return self.now()

    def set(self, when: datetime) -> None:
        self._offset = when - datetime.now(UTC)


@dataclass
class ChildBot:
    """`approvals-bot serve` in a process of its own."""

    url: str
    proc: asyncio.subprocess.Process
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@asynccontextmanager
async def child_bot(env: dict[str, str], workdir: Path) -> AsyncIterator[ChildBot]:
    """Start the bot as a child process on a free port; stop it with SIGTERM afterwards."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    environ = {**base, "PYTHONPATH": str(ROOT), **env, "PORT": str(port)}
    environ.setdefault("DATA_DIR", str(workdir / "data"))
    log = workdir / f"bot-{port}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
            env=environ, stdout=out, stderr=out, cwd=workdir,
        )  # fmt: skip
    bot = ChildBot(f"http://127.0.0.1:{port}", proc, log)
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(600):
                if proc.returncode is not None:
                    raise AssertionError(f"the child bot exited: {bot.output()}")
                try:
                    if (await http.get(f"{bot.url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the child bot never answered /healthz: {bot.output()}")
        yield bot
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@dataclass
class TwoBots:
    """The same people and requests, reached through either bot."""

    a: Requests  # the bot served inside the test
    b: Requests  # the child process (its container field is A's: reads of shared state only)
    child: ChildBot
    env: dict[str, str]


@asynccontextmanager
async def two_bots(fake_slack: FakeSlack, redis_url: str, **env: str) -> AsyncIterator[TwoBots]:
    for user, (name, email) in PEOPLE.items():
        fake_slack.add_user(user, real_name=name, email=email)
    clock = WallClock()
    environ = bot_environment(fake_slack.api_url, redis_url, ADMIN_USER_IDS="U0ALICE", **env)
    with tempfile.TemporaryDirectory(prefix="approvals-two-bots-") as tmp:
        async with (
            running_bot(environ, clock=clock) as bot_a,
            httpx.AsyncClient(follow_redirects=True, timeout=30) as browser,
        ):
            sandbox = f"{bot_a.url}/sandbox"
            child_env = {
                **environ,
                "LOG_LEVEL": "INFO",
                "ATLASSIAN_AUTH_URL": sandbox,
                "ATLASSIAN_API_URL": sandbox,
            }
            async with child_bot(child_env, Path(tmp)) as child:
                bot_b = RunningBot(url=child.url, container=bot_a.container, http=bot_a.http)
                a = Requests(bot_a, fake_slack, clock, Linking(bot_a, fake_slack, clock, browser))
                b = Requests(
                    bot_b,
                    fake_slack,
                    clock,
                    Linking(bot_b, fake_slack, clock, browser),
                    secrets=a.secrets,  # one person, one authenticator, whichever bot asks
                    last_step=a.last_step,
                )
                yield TwoBots(a, b, child, child_env)


async def enrol_over_slack(world: Requests, user: str) -> None:
    """/approvals enroll -> the setup key in the DM -> the Enter code form, through `world`'s
    bot (the code modal's submission carries the enrolment id as Slack would)."""
    before = len(world.slack.dm_messages(user))
    await world.command("enroll", user, wait=False)
    for _ in range(1000):
        dms = world.slack.dm_messages(user)[before:]
        found = [m for m in dms if m.blocks and "Enter code" in json.dumps(m.blocks)]
        if found:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(f"no enrolment DM for {user}")
    blocks = found[-1].blocks or []
    key = next(m.group(1) for b in blocks if (m := _SETUP_KEY.search(json.dumps(b))))
    [enrolment] = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    world.secrets[user] = key.replace(" ", "")
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0APP",
        "trigger_id": world.slack.new_trigger_id(user),
        "view": {
            "id": "V0ENROL",
            "type": "modal",
            "callback_id": "token_activate",
            "private_metadata": enrolment,
            "state": {
                "values": {
                    "code": {"code": {"type": "plain_text_input", "value": world.code(user)}}
                }
            },
        },
    }
    response = await world.bot.interact(payload)
    assert response.status_code == 200 and response.json().get("response_action") == "update", (
        response.text
    )
