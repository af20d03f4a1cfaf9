"""Playground mode: only without Slack credentials, commands reach the bot signed as Slack signs
them, the answers show to the person who typed, and the workspace survives a restart."""

from __future__ import annotations

import asyncio
import queue
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from emulators.slack import FakeSlack
from services.secretbox import new_key
from testkit.redis_server import free_port
from tests.scenario.harness import RunningBot, bot_environment, running_bot
from tests.scenario.test_process import bot_process, clean_env


async def test_with_slack_credentials_there_is_no_playground(
    fake_slack: FakeSlack, redis_url: str
) -> None:
    async with running_bot(bot_environment(fake_slack.api_url, redis_url)) as bot:
        assert bot.container.playground is None
        for path in (
            "/playground",
            "/playground/",
            "/playground/api/auth.test",
            "/playground/as/U0ADA",
        ):
            response = await bot.http.get(f"{bot.url}{path}")
            assert response.status_code == 404, path


@asynccontextmanager
async def as_person(bot: RunningBot, user: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser session of one person (the playground keeps who you are in a cookie)."""
    async with httpx.AsyncClient(base_url=f"{bot.url}/playground", timeout=10) as client:
        response = await client.get(f"/as/{user}")
        assert response.status_code == 303
        yield client


async def wait_for_text(client: httpx.AsyncClient, channel: str, text: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pane = (await client.get("/pane", params={"c": channel})).text
        if text in pane:
            return pane
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never showed in {channel}: {pane}")


async def test_a_command_reaches_the_bot_signed_and_only_its_author_sees_the_answer(
    playground_bot: RunningBot,
) -> None:
    playground = playground_bot.container.playground
    assert playground is not None
    async with (
        as_person(playground_bot, "U0ALICE") as alice,
        as_person(playground_bot, "U0BOB") as bob,
    ):
        said = await alice.post("/say", data={"c": "C0DOCS", "text": "/approvals frobnicate"})
        assert said.status_code == 204
        # An unknown subcommand gets the help, as an ephemeral only Alice sees.
        pane = await wait_for_text(alice, "C0DOCS", "/approvals connect")
        assert "Only visible to you" in pane
        assert "/approvals connect" not in (await bob.get("/pane", params={"c": "C0DOCS"})).text
        # Slack itself answers a command no app registered; the bot never hears of it.
        calls = len(playground.slack.calls)
        await alice.post("/say", data={"c": "C0DOCS", "text": "/nope hello"})
        assert "Slackbot" in await wait_for_text(alice, "C0DOCS", "is not a valid command")
        assert len(playground.slack.calls) == calls
        # A plain message stays in the channel for everyone, mentions escaped as Slack does.
        await bob.post("/say", data={"c": "C0DOCS", "text": "hello @alice in #general"})
        [said_by_bob] = [m for m in playground.slack.messages("C0DOCS") if m.user == "U0BOB"]
        assert said_by_bob.text == "hello <@U0ALICE|alice> in <#C0GENERAL|general>"
        assert "@alice" in await wait_for_text(alice, "C0DOCS", "Bob Baker")


async def test_a_page_is_refused_to_nobody_and_files_only_to_who_may_see_them(
    playground_bot: RunningBot,
) -> None:
    async with httpx.AsyncClient(base_url=f"{playground_bot.url}/playground") as nobody:
        assert (await nobody.get("/pane", params={"c": "C0DOCS"})).status_code == 401
        assert (await nobody.post("/say", data={"c": "C0DOCS", "text": "hi"})).status_code == 401
        assert (await nobody.get("/as/U0NOBODY")).status_code == 404
        picker = await nobody.get("/")
        assert picker.status_code == 200 and "Ada Admin" in picker.text
        assert "playground playground" not in picker.text.lower()


def test_serve_without_slack_credentials_serves_the_playground_and_keeps_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = clean_env(ENCRYPTION_KEYS=new_key(), PORT=str(port), DATA_DIR=str(tmp_path / "d"))
    url = f"http://localhost:{port}/playground"
    with bot_process(env, tmp_path) as proc:
        assert _printed(proc, f"Playground: {url}")
        # The printed URL itself answers 200 (no redirect).
        with httpx.Client(timeout=10) as plain:
            assert _get_when_up(plain, url).status_code == 200
            # Loopback only: 127.0.0.2 is this machine too, but not the address it listens on.
            with pytest.raises(httpx.ConnectError):
                plain.get(f"http://127.0.0.2:{port}/playground")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/playground", timeout=10) as web:
            assert web.get("/as/U0CAROL").status_code == 303
            said = web.post("/say", data={"c": "C0GENERAL", "text": "kept across restarts"})
            assert said.status_code == 204
            # Saved by itself shortly after the change, not only when the bot stops.
            _wait_until_saved(tmp_path / "d" / "playground.json", "kept across restarts")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    with bot_process(env, tmp_path) as proc:
        assert _printed(proc, f"Playground: {url}")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/playground", timeout=10) as web:
            _get_when_up(web, "/")
            web.get("/as/U0CAROL")
            assert "kept across restarts" in web.get("/pane", params={"c": "C0GENERAL"}).text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _printed(proc: subprocess.Popen[str], line: str, timeout: float = 60) -> bool:
    """Waits for `line` on the bot's output, then keeps draining it in the background so a full
    pipe can never stall the bot; a bot that never prints it fails the test instead of hanging."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        for out in stdout:
            lines.put(out)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            out = lines.get(timeout=left)
        except queue.Empty:
            break
        if out is None:
            break
        seen.append(out)
        if out.strip() == line:
            return True
    raise AssertionError(f"never printed {line!r}: {''.join(seen)}")


def _get_when_up(web: httpx.Client, path: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return web.get(path)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _wait_until_saved(path: Path, text: str) -> None:
    deadline = time.monotonic() + 30
    while not (path.exists() and text in path.read_text(encoding="utf-8")):
        assert time.monotonic() < deadline, f"{text!r} never saved to {path}"
        time.sleep(0.1)
