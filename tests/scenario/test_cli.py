"""The one-shot commands: keygen, check, audit verify and audit export, as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
from redis.asyncio import Redis

from bot.stores.audit import RedisAuditLog
from bot.stores.keys import Keys
from services.audit.events import Actor, AuditEvent
from services.audit.trail import AuditTrail
from services.secretbox import SecretBox, new_key
from tests.fakes.clock import FakeClock
from tests.fakes.slack import FakeSlack
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def env_for(slack: FakeSlack, redis_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-cli",
        "SLACK_SIGNING_SECRET": "sig",
        "SLACK_API_URL": slack.api_url,
        "ENCRYPTION_KEYS": new_key(),
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": "cli:",
    }


async def test_keygen_prints_a_usable_key() -> None:
    code, out, _ = await run_cli("keygen", env={})
    assert code == 0
    SecretBox([out.strip()])


async def test_check_says_ok_for_each_part(fake_slack: FakeSlack, redis_url: str) -> None:
    code, out, _ = await run_cli("check", env=env_for(fake_slack, redis_url))
    lines = out.strip().splitlines()
    assert code == 0, out
    assert [line.split()[0:2] for line in lines] == [
        ["slack", "ok"],
        ["store", "ok"],
        ["approvalflow", "sandbox"],
    ]


async def test_check_names_what_failed(fake_slack: FakeSlack, redis_url: str) -> None:
    fake_slack.revoke_token("xoxb-cli")
    env = {**env_for(fake_slack, redis_url), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    code, out, _ = await run_cli("check", env=env)
    assert code == 1
    assert "slack        failed  auth.test said" in out
    assert "store        failed" in out


async def test_audit_verify_and_export(fake_slack: FakeSlack, redis_url: str, redis: Redis) -> None:
    trail = AuditTrail(RedisAuditLog(redis, Keys("cli:")), FakeClock())
    for n in range(3):
        await trail.record(
            AuditEvent(
                Actor("U1", "acc-1", "Alice Example"), "request.signed", f"AR-{n}", "I approve"
            )
        )
    env = env_for(fake_slack, redis_url)

    code, out, _ = await run_cli("audit", "verify", env=env)
    assert code == 0, out

    code, out, _ = await run_cli("audit", "export", "--format", "jsonl", env=env)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["target"] for r in rows] == ["AR-0", "AR-1", "AR-2"]
    code, out, _ = await run_cli("audit", "export", "--since", "2026-11-23", env=env)
    assert code == 0 and out.count("Alice Example") == 3 and out.startswith("seq,")

    stream = Keys("cli:").audit_stream()
    entries = await redis.xrange(stream)
    assert entries is not None
    middle = entries[1][0]
    assert middle is not None
    await redis.xdel(stream, middle)
    code, out, _ = await run_cli("audit", "verify", env=env)
    assert code == 1 and "seq 2" in out


async def test_sandbox_runs_standalone(tmp_path: Path) -> None:
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "sandbox",
        "--port", str(port), "--data", str(tmp_path / "s.json"),
        env={**base, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(200):
                try:
                    overview = (await http.get(f"http://127.0.0.1:{port}/_sandbox/")).json()
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("the sandbox did not start")
            assert "https://sandbox.atlassian.net" in [s["url"] for s in overview["sites"]]
    finally:
        proc.terminate()
        await proc.wait()
