"""50 callers over 2 OS processes sharing one Redis: one refresh, one new token for everyone."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from redis.asyncio import Redis

from bot.stores.keys import Keys
from bot.stores.linking import RedisGrantStore
from emulators.approvalflow import SandboxState, sandbox_server
from emulators.approvalflow.seed import ALICE, SITE_ID, SITE_URL
from services.clock import SystemClock
from services.linking import SealedGrants
from services.linking.models import REQUESTED_SCOPES, Grant
from services.secretbox import SecretBox, new_key
from testkit.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "proc-client", "proc-client-secret"
REDIRECT = "http://127.0.0.1:9/atlassian/callback"
PROCESSES, CALLERS = 2, 25


@asynccontextmanager
async def serving(server: uvicorn.Server) -> AsyncIterator[None]:
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def child(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.unit.linking_child",
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_fifty_callers_in_two_processes_cause_exactly_one_refresh(
    redis: Redis, redis_url: str
) -> None:
    state = SandboxState(clients={CLIENT_ID: CLIENT_SECRET})  # the real clock, like the children
    # A slow token endpoint: every caller in both processes arrives while the refresh runs.
    state.set_latency("token", 0.3)
    code = state.authorize(
        client_id=CLIENT_ID, redirect_uri=REDIRECT, who=ALICE, scopes=list(REQUESTED_SCOPES)
    )
    _, first = state.exchange_code(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT
    )
    now = SystemClock().now()
    key, keys = new_key(), Keys("proc:")
    grants = SealedGrants(RedisGrantStore(redis, keys), SecretBox([key]))
    await grants.link(
        Grant(
            team_id="T1",
            user_id="U1",
            access_token=first["access_token"],
            refresh_token=first["refresh_token"],
            expires_at=now - timedelta(seconds=1),  # expired: every caller needs a refresh
            scopes=frozenset(first["scope"].split()),
            cloud_id=SITE_ID,
            site_url=SITE_URL,
            account_id=ALICE,
            name="Alice Anders",
            email="alice@example.com",
            linked_at=now - timedelta(hours=1),
            last_refreshed_at=now - timedelta(hours=1),
        )
    )
    port = free_port()
    go = "proc:go"
    env = {
        "CHILD_REDIS_URL": redis_url,
        "CHILD_PREFIX": keys.prefix,
        "CHILD_KEY": key,
        "CHILD_SANDBOX_URL": f"http://127.0.0.1:{port}",
        "CHILD_CLIENT_ID": CLIENT_ID,
        "CHILD_CLIENT_SECRET": CLIENT_SECRET,
        "CHILD_REDIRECT": REDIRECT,
        "CHILD_USER": "U1",
        "CHILD_CALLERS": str(CALLERS),
        "CHILD_GO_KEY": go,
    }
    async with serving(sandbox_server("127.0.0.1", port, state, shutdown_seconds=1)):
        children = [await child(env) for _ in range(PROCESSES)]
        try:
            for proc in children:
                assert proc.stdout is not None
                line = await asyncio.wait_for(proc.stdout.readline(), 30)
                assert line.strip() == b"ready", line
            await redis.set(go, b"1")
            outputs: list[dict[str, Any]] = []
            for proc in children:
                out, err = await asyncio.wait_for(proc.communicate(), 30)
                assert proc.returncode == 0, err.decode()
                assert b"unexpected" not in err, err.decode()
                outputs.append(json.loads(out))
        finally:
            for proc in children:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()

    assert len({o["pid"] for o in outputs}) == PROCESSES
    assert all(o["errors"] == [] for o in outputs), outputs
    tokens = [token for o in outputs for token in o["tokens"]]
    assert len(tokens) == PROCESSES * CALLERS == 50
    assert len(set(tokens)) == 1 and tokens[0] != first["access_token"]
    assert state.refresh_count() == 1
    assert [c.status for c in state.calls_to("token")] == [200]
    [family] = state.families()
    assert family.revoked_at is None
    assert state.token_family(tokens[0]) is family
    stored = await grants.get("U1")
    assert stored is not None and stored.access_token == tokens[0] and not stored.broken
    assert stored.refresh_token != first["refresh_token"]
