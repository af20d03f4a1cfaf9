"""Issue 5's verification benchmark: TOTP verifications/s in one process on a real throwaway Redis.

Run: `.venv/bin/python -m bench.verify_totp [--users 200] [--rounds 10] [--concurrency 50]`.

Each verification is a real `ApprovalTokens.verify_for_signature` with the Redis token store and
the real audit trail (`AuditTrail` over `RedisAuditLog`), so it costs what production costs: read
the record, decrypt the secret, compute three codes, the atomic attempt script, the audit append.
A clock that moves one 30-second step per round lets each user sign once per round without
tripping the replay guard. Round trips are counted on the socket: every `send_packed_command`
of the client's connections is one request written to Redis (a pipeline is one write), and
Redis's own `INFO commandstats` deltas show which commands ran (including those inside scripts).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from bot.stores.approval_token import RedisTokenStore
from bot.stores.audit import RedisAuditLog
from bot.stores.keys import Keys
from services.approval_token import ApprovalTokens
from services.audit.keys import AuditKeyring
from services.audit.trail import AuditTrail
from services.secretbox import SecretBox, new_key
from testkit.redis_server import throwaway_redis
from testkit.rfc6238 import code_for_step


class CountingConnection(Connection):
    """A redis-py connection that counts the requests it writes (one per round trip)."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)


class SteppingClock:
    """A clock the benchmark moves one TOTP step at a time."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def step(self) -> None:
        self._now += timedelta(seconds=30)


class NoAlerts:
    async def user_locked(self, user: str, until: datetime) -> None:
        raise AssertionError("nobody should be locked in the benchmark")


async def commandstats(redis: Redis) -> Counter[str]:
    info = await redis.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()})


def _show(stats: Counter[str], per: int) -> str:
    parts = [f"{name} {calls / per:.2f}" for name, calls in stats.most_common() if calls > 0]
    return ", ".join(parts)


async def _run(
    tokens: ApprovalTokens,
    clock: SteppingClock,
    secrets: dict[str, str],
    concurrency: int,
    latencies: list[float],
) -> int:
    """One round: every user signs once with the current code; returns how many verified."""
    step = int(clock.now().timestamp()) // 30
    codes = {user: code_for_step(secret, step) for user, secret in secrets.items()}
    sem = asyncio.Semaphore(concurrency)

    async def one(user: str) -> None:
        async with sem:
            started = time.perf_counter()
            await tokens.verify_for_signature(user, codes[user])
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one(user) for user in codes))
    return len(codes)


async def _phase(
    label: str,
    tokens: ApprovalTokens,
    clock: SteppingClock,
    secrets: dict[str, str],
    rounds: int,
    concurrency: int,
    admin: Redis,
) -> None:
    before_sent, before_stats = CountingConnection.sent, await commandstats(admin)
    done = 0
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        clock.step()
        done += await _run(tokens, clock, secrets, concurrency, latencies)
    elapsed = time.perf_counter() - started
    sent = CountingConnection.sent - before_sent
    stats = await commandstats(admin)
    stats.subtract(before_stats)
    stats["info"] = 0  # our own INFO calls
    stats["ping"] = 0  # redis-py health checks, if any
    print(f"\n{label}: {done} verifications in {elapsed:.2f} s")
    print(f"  verifications/s        {done / elapsed:,.0f}")
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"  latency p50 / p99      {p50 * 1000:.2f} / {p99 * 1000:.2f} ms")
    print(f"  round trips per verify {sent / done:.2f}  (requests written to Redis)")
    print(f"  commands per verify    {_show(+stats, done)}")


async def main(users: int, rounds: int, concurrency: int) -> None:
    with throwaway_redis() as url:
        admin = Redis.from_url(url)  # not counted: benchmark bookkeeping only
        pool = ConnectionPool.from_url(url, connection_class=CountingConnection)
        redis = Redis(connection_pool=pool)
        keys = Keys("bench:")
        clock = SteppingClock()
        tokens = ApprovalTokens(
            store=RedisTokenStore(redis, keys),
            box=SecretBox([new_key()]),
            clock=clock,
            auditor=AuditTrail(RedisAuditLog(redis, keys, AuditKeyring.throwaway()), clock),
            alerts=NoAlerts(),
            validity_days=3650,  # the stepping clock must not reach the expiry
            max_failures=5,
            lockout_minutes=15,
        )
        secrets: dict[str, str] = {}
        for n in range(users):
            user = f"U{n:05d}"
            enrolment = await tokens.start_enrolment(user, f"user{n}@example.com")
            step = int(clock.now().timestamp()) // 30
            await tokens.activate(user, code_for_step(enrolment.setup_key, step))
            secrets[user] = enrolment.setup_key
        # Warm up: scripts loaded, connections open, the audit head cached.
        await _phase("warm-up", tokens, clock, secrets, 1, concurrency, admin)
        print(f"\n{users} users, {rounds} rounds; codes computed with testkit/rfc6238.py")
        await _phase("sequential (1 at a time)", tokens, clock, secrets, rounds, 1, admin)
        await _phase(
            f"concurrent ({concurrency} in flight)",
            tokens,
            clock,
            secrets,
            rounds,
            concurrency,
            admin,
        )
        await redis.aclose()
        await admin.aclose()


def _args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    return parser.parse_args(list(argv) if argv is not None else None)


if __name__ == "__main__":
    args = _args()
    asyncio.run(main(args.users, args.rounds, args.concurrency))
