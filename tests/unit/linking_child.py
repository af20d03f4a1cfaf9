"""A separate process for test_linking_processes: a vault on the shared Redis asks for a token.

Reads its settings from the environment, prints "ready", waits for the parent's go key in Redis
(so every process starts at once), then prints one JSON line: the tokens its callers got."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from redis.asyncio import Redis

from bot.stores.basic import RedisLeases
from bot.stores.keys import Keys
from bot.stores.linking import RedisGrantStore
from services.audit.events import AuditEvent
from services.clock import SystemClock
from services.linking import (
    AtlassianEndpoints,
    AtlassianOAuth,
    ClientCredentials,
    LinkStatus,
    SealedGrants,
    TokenVault,
)
from services.secretbox import SecretBox


class Quiet:
    async def linked(self, user_id: str, link: LinkStatus) -> None:
        print("unexpected notice: linked", file=sys.stderr)

    async def broken(self, user_id: str, link: LinkStatus) -> None:
        print("unexpected notice: broken", file=sys.stderr)

    async def record(self, event: AuditEvent) -> None:
        print(f"unexpected audit: {event.action}", file=sys.stderr)


async def main() -> None:
    env = os.environ
    redis = Redis.from_url(env["CHILD_REDIS_URL"])
    keys = Keys(env["CHILD_PREFIX"])
    base = env["CHILD_SANDBOX_URL"]
    atlassian = AtlassianOAuth(
        AtlassianEndpoints(f"{base}/authorize", f"{base}/oauth/token", base),
        ClientCredentials(
            env["CHILD_CLIENT_ID"], env["CHILD_CLIENT_SECRET"], env["CHILD_REDIRECT"]
        ),
    )
    quiet = Quiet()
    vault = TokenVault(
        atlassian=atlassian,
        grants=SealedGrants(RedisGrantStore(redis, keys), SecretBox([env["CHILD_KEY"]])),
        leases=RedisLeases(redis, keys),
        clock=SystemClock(),
        notices=quiet,
        auditor=quiet,
        poll_seconds=0.01,
    )
    await redis.ping()
    print("ready", flush=True)
    deadline = asyncio.get_running_loop().time() + 30
    while not await redis.exists(env["CHILD_GO_KEY"]):
        if asyncio.get_running_loop().time() > deadline:
            raise SystemExit("the parent never said go")
        await asyncio.sleep(0.002)
    user = env["CHILD_USER"]
    results = await asyncio.gather(
        *(vault.access_token_for(user) for _ in range(int(env["CHILD_CALLERS"]))),
        return_exceptions=True,
    )
    print(
        json.dumps(
            {
                "pid": os.getpid(),
                "tokens": [r.access_token for r in results if not isinstance(r, BaseException)],
                "errors": [repr(r) for r in results if isinstance(r, BaseException)],
            }
        ),
        flush=True,
    )
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
