"""The one-shot commands: keygen, check, audit verify and audit export, as real processes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import httpx
from redis.asyncio import Redis

from bot.stores.audit import RedisAuditLog
from bot.stores.keys import Keys
from emulators.slack import FakeSlack
from services.audit.chain import canonical, entry_from_record, entry_to_record
from services.audit.events import Actor, AuditEvent
from services.audit.keys import AuditKeyring
from services.audit.trail import AuditTrail
from services.secretbox import SecretBox, new_key
from testkit.redis_server import free_port
from tests.fakes.clock import FakeClock

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
        ["evidence", "ok"],
    ]


async def test_check_names_what_failed(fake_slack: FakeSlack, redis_url: str) -> None:
    fake_slack.revoke_token("xoxb-cli")
    env = {**env_for(fake_slack, redis_url), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    code, out, _ = await run_cli("check", env=env)
    assert code == 1
    assert "slack        failed  auth.test said" in out
    assert "store        failed" in out


async def record_three(redis: Redis, env: dict[str, str]) -> None:
    """Three entries, appended as the bot configured by `env` appends them."""
    keys = AuditKeyring.from_fernet_keys(env["ENCRYPTION_KEYS"].split(","))
    trail = AuditTrail(RedisAuditLog(redis, Keys("cli:"), keys), FakeClock())
    for n in range(3):
        await trail.record(
            AuditEvent(
                Actor("U1", "acc-1", "Alice Example"), "request.signed", f"AR-{n}", "I approve"
            )
        )


async def test_audit_verify_and_export(fake_slack: FakeSlack, redis_url: str, redis: Redis) -> None:
    env = env_for(fake_slack, redis_url)
    await record_three(redis, env)

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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_audit_verify_catches_a_plain_sha256_rewrite_and_a_dropped_key(
    fake_slack: FakeSlack, redis_url: str, redis: Redis
) -> None:
    env = env_for(fake_slack, redis_url)
    await record_three(redis, env)
    code, out, _ = await run_cli("audit", "verify", env=env)
    assert code == 0, out

    # Someone with Redis access but no ENCRYPTION_KEYS edits entry 2 and, as before the chain
    # was keyed, recomputes its hash and every later link and the head with plain SHA-256.
    keys = Keys("cli:")
    stored = [
        (_text(raw_id), entry_from_record({_text(k): _text(v) for k, v in fields.items()}))
        for raw_id, fields in await redis.xrange(keys.audit_stream()) or []
        if raw_id is not None and fields is not None
    ]
    prev_hash = stored[0][1].hash
    forged = [(stored[0][0], entry_to_record(stored[0][1]))]
    for entry_id, entry in stored[1:]:
        entry = replace(entry, prev_hash=prev_hash)
        if entry.seq == 2:
            entry = replace(entry, reason="never signed")
        prev_hash = hashlib.sha256(canonical(entry)).hexdigest()
        forged.append((entry_id, entry_to_record(replace(entry, hash=prev_hash))))
    await redis.delete(keys.audit_stream())
    for entry_id, record in forged:
        await redis.xadd(keys.audit_stream(), record, id=entry_id)  # type: ignore[arg-type]
    await redis.hset(keys.audit_head(), mapping={"seq": "3", "hash": prev_hash})
    code, out, _ = await run_cli("audit", "verify", env=env)
    assert code == 1 and out.startswith("audit trail BROKEN at seq 2") and "edited" in out
    assert env["ENCRYPTION_KEYS"] not in out

    # A fresh trail, then ENCRYPTION_KEYS rotated and the old key dropped: named as such.
    await redis.delete(keys.audit_stream(), keys.audit_head())
    await record_three(redis, env)
    rotated = {**env, "ENCRYPTION_KEYS": new_key()}
    code, out, _ = await run_cli("audit", "verify", env=rotated)
    assert code == 1 and "sealed with a key that is no longer in ENCRYPTION_KEYS" in out
    kept = {**env, "ENCRYPTION_KEYS": f"{rotated['ENCRYPTION_KEYS']},{env['ENCRYPTION_KEYS']}"}
    code, out, _ = await run_cli("audit", "verify", env=kept)
    assert code == 0, out


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
