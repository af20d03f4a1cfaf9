"""Seeds many users straight into the Redis stores for the admin inventory (tests and bench)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from bot.stores.approval_token import RedisTokenStore
from bot.stores.client import RedisClient
from bot.stores.keys import Keys
from bot.stores.linking import RedisGrantStore
from services.approval_token.ports import AttemptRules, NewEnrolment, Outcome, Purpose
from services.linking import REQUESTED_SCOPES, SealedGrants
from services.linking.models import Grant
from services.secretbox import SecretBox

RULES = AttemptRules(5, timedelta(minutes=15), timedelta(minutes=15), timedelta(days=30))
# Token states by n % 8, links by n % 10: every filter has members among any 80 users.
TOKEN_KINDS = ("active", "active", "active", "expiring", "expired", "pending", "locked", "revoked")
SEALED_MARK = "seeded-secret-"  # what the sealed "secret" holds; a leak test looks for it


def user_id(n: int) -> str:
    return f"U{n:07d}"


def link_kind(n: int) -> str:
    return {0: "none", 1: "broken", 2: "missing scopes"}.get(n % 10, "ok")


def access_token(user: str) -> str:
    return f"seeded-access-{user}"


async def seed_users(
    redis: RedisClient, keys: Keys, box: SecretBox, count: int, now: datetime
) -> None:
    tokens = RedisTokenStore(redis, keys)
    grants = SealedGrants(RedisGrantStore(redis, keys), box)

    async def one(n: int) -> None:
        user = user_id(n)
        kind = TOKEN_KINDS[n % len(TOKEN_KINDS)]
        at = {"expiring": now - timedelta(days=25), "expired": now - timedelta(days=40)}.get(
            kind, now - timedelta(days=1)
        )
        if kind == "pending":
            at = now
        eid = f"e{n}"
        sealed = box.seal(f"{SEALED_MARK}{user}".encode())
        await tokens.begin_enrolment(
            NewEnrolment(user, eid, sealed, at, at + timedelta(minutes=10))
        )
        if kind != "pending":
            step = int(at.timestamp()) // 30
            result = await tokens.attempt(user, eid, Purpose.ACTIVATE, step, at, RULES)
            assert result.outcome is Outcome.ACCEPTED
        if kind == "locked":
            for _ in range(RULES.max_failures):
                await tokens.attempt(user, eid, Purpose.SIGN, None, now, RULES)
        if kind == "revoked":
            await tokens.revoke(user, now, "lost")
        link = link_kind(n)
        if link == "none":
            return
        scopes = frozenset(REQUESTED_SCOPES)
        if link == "missing scopes":
            scopes -= {"write:change-set:custom"}
        grant = Grant(
            team_id="T0TEAM",
            user_id=user,
            access_token=access_token(user),
            refresh_token=f"seeded-refresh-{user}",
            expires_at=now + timedelta(hours=1),
            scopes=scopes,
            cloud_id="cloud-1",
            site_url="https://acme.atlassian.net",
            account_id=f"acc-{n}",
            name=f"Person {n:04d}",
            email=f"person{n}@example.com",
            linked_at=now - timedelta(days=2),
            last_refreshed_at=now - timedelta(days=2),
        )
        written = await grants.link(grant)
        assert written.version is not None
        if link == "broken":
            broken = replace(grant.broken_now(now, "invalid_grant"), version=written.version)
            assert await grants.replace(broken) is not None

    for start in range(0, count, 50):  # a few dozen at a time: quick, and no connection storm
        await asyncio.gather(*(one(n) for n in range(start, min(count, start + 50))))
