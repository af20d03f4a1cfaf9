"""The `approvals-bot` process: refuses to start without configuration, starts on embedded Redis,
keeps its data across a restart, stops cleanly on SIGTERM, and says 503 when the store is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis as sync_redis

from bot.server import DRAIN_SECONDS
from emulators.slack import FakeSlack
from services.secretbox import new_key
from testkit.redis_server import free_port, throwaway_redis
from tests.scenario.harness import bot_environment, running_bot

BOT = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    keep["PYTHONPATH"] = str(ROOT)
    keep.update(extra)
    return keep


def test_no_environment_lists_everything_missing_and_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [*BOT, "serve"], env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "ENCRYPTION_KEYS: missing" in result.stderr
    # No Slack credentials means the playground, not an error.
    assert "SLACK_BOT_TOKEN" not in result.stderr


@contextmanager
def bot_process(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [*BOT, "serve"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def wait_healthy(port: int, proc: subprocess.Popen[str], timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the bot did not answer /healthz")


def test_starts_on_embedded_redis_keeps_data_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "d"
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-only",
        SLACK_SIGNING_SECRET="sig",
        ENCRYPTION_KEYS=new_key(),
        PORT=str(port),
        DATA_DIR=str(data),
    )
    with bot_process(env, tmp_path) as proc:
        assert wait_healthy(port, proc).status_code == 200
        store = sync_redis.Redis(unix_socket_path=str(data / "redis.sock"))
        store.set("approvals:kept", b"across restarts")
        store.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        output = proc.stdout.read() if proc.stdout else ""
    assert "embedded redis-server stopped" in output
    assert '"uses": "built-in sandbox"' in output
    assert not _redis_running_under(data)

    with bot_process(env, tmp_path) as proc:
        assert wait_healthy(port, proc).status_code == 200
        store = sync_redis.Redis(unix_socket_path=str(data / "redis.sock"))
        assert store.get("approvals:kept") == b"across restarts"
        store.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_sigterm_stops_the_playground_promptly_and_cleanly(tmp_path: Path) -> None:
    """Nothing in flight: the exit comes well before the drain limit, with everything closed."""
    port = free_port()
    data = tmp_path / "d"
    env = clean_env(ENCRYPTION_KEYS=new_key(), PORT=str(port), DATA_DIR=str(data))
    with bot_process(env, tmp_path) as proc:
        assert wait_healthy(port, proc).status_code == 200
        proc.send_signal(signal.SIGTERM)
        # Waiting for the playground's saver (it lives until the store closes) held every
        # exit for the whole drain limit; the limit is for listener work still in flight.
        assert proc.wait(timeout=DRAIN_SECONDS) == 0
        output = proc.stdout.read() if proc.stdout else ""
    assert '"message": "stopped"' in output
    assert "embedded redis-server stopped" in output
    assert (data / "playground.json").is_file()
    assert not _redis_running_under(data)


def _redis_running_under(data: Path) -> bool:
    result = subprocess.run(["pgrep", "-f", f"unixsocket:{data}"], capture_output=True, text=True)
    if result.returncode == 1:
        return False
    # Fall back to the socket: nothing answers on it once the server has gone.
    try:
        return bool(
            sync_redis.Redis(unix_socket_path=str(data / "redis.sock"), socket_timeout=1).ping()
        )
    except (sync_redis.ConnectionError, OSError):
        return False


async def test_healthz_is_503_when_the_store_is_gone(fake_slack: FakeSlack) -> None:
    with throwaway_redis() as url:
        async with running_bot(bot_environment(fake_slack.api_url, url)) as bot:
            assert (await bot.http.get(f"{bot.url}/healthz")).status_code == 200
            doomed = sync_redis.Redis.from_url(url)
            doomed.shutdown(nosave=True)
            response = await bot.http.get(f"{bot.url}/healthz")
            assert response.status_code == 503
            assert response.json()["ok"] is False
