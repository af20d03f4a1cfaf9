"""The composition root: builds every client, store and service; nothing else connects."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.embedded_redis import EmbeddedRedis
from bot.jobs import JobRunner
from bot.metrics import Metrics
from bot.stores.audit import RedisAuditLog
from bot.stores.basic import RedisHealth, RedisLeases, RedisOnceKeys
from bot.stores.keys import Keys
from handlers.deps import HandlerDeps
from handlers.register import register_all
from services.audit.trail import AuditTrail
from services.clock import SystemClock
from services.ports import Clock
from services.secretbox import SecretBox

log = logging.getLogger(__name__)

SLACK_TIMEOUT_SECONDS = 10


@dataclass
class Container:
    """Everything a running bot holds; built once by `build`, closed when it exits."""

    settings: Settings
    redis: Redis
    keys: Keys
    clock: Clock
    box: SecretBox
    health: RedisHealth
    leases: RedisLeases
    once: RedisOnceKeys
    audit_log: RedisAuditLog
    audit: AuditTrail
    metrics: Metrics
    slack: AsyncWebClient
    bolt: AsyncApp
    jobs: JobRunner
    store_description: str


def make_slack_client(settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(
        token=settings.SLACK_BOT_TOKEN.get_secret_value(),
        base_url=settings.SLACK_API_URL,
        timeout=SLACK_TIMEOUT_SECONDS,
    )


def make_bolt_app(
    settings: Settings, client: AsyncWebClient, deps: HandlerDeps, metrics: Metrics
) -> AsyncApp:
    # Bolt turns on its OAuth install flow when these are in the environment; this bot is a
    # single-workspace app with a static bot token, so hide them while the app is built.
    # (SLACK_BOT_TOKEN too: the client we pass already carries it, and Bolt warns otherwise.)
    hidden = {
        name: os.environ.pop(name)
        for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_BOT_TOKEN")
        if name in os.environ
    }
    try:
        app = AsyncApp(
            client=client,
            signing_secret=settings.SLACK_SIGNING_SECRET.get_secret_value(),
            process_before_response=False,
            raise_error_for_unhandled_request=False,
        )
    finally:
        os.environ.update(hidden)

    # Runs after Bolt's signature check: what it counts has reached the listeners.
    @app.middleware
    async def count_dispatched(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        kind = "command" if "command" in body else str(body.get("type", "other"))
        metrics.slack_dispatched.labels(kind).inc()
        await next()

    register_all(app, deps)
    return app


async def connect_store(settings: Settings, stack: AsyncExitStack) -> tuple[Redis, str]:
    """The Redis client: REDIS_URL, or an embedded redis-server stopped when the stack closes."""
    if settings.REDIS_URL is not None:
        url = settings.REDIS_URL.get_secret_value()
        description = "Redis at REDIS_URL"
    else:
        embedded = EmbeddedRedis(settings.DATA_DIR)
        url = await embedded.start()
        stack.push_async_callback(embedded.stop)
        description = f"embedded redis-server (data in {embedded.data_dir})"
    redis = Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
    )
    stack.push_async_callback(redis.aclose)
    return redis, description


@asynccontextmanager
async def build(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Container]:
    """Build the whole bot; on exit close every connection and child process it started."""
    async with AsyncExitStack() as stack:
        redis, store_description = await connect_store(settings, stack)
        keys = Keys(settings.REDIS_PREFIX)
        clock = clock or SystemClock()
        box = SecretBox(settings.encryption_keys)
        metrics = Metrics()
        leases = RedisLeases(redis, keys)
        audit_log = RedisAuditLog(redis, keys)
        audit = AuditTrail(audit_log, clock)
        slack = make_slack_client(settings)
        deps = HandlerDeps(sandbox=not settings.live)
        bolt = make_bolt_app(settings, slack, deps, metrics)
        jobs = JobRunner(leases, metrics)
        stack.push_async_callback(jobs.stop)
        log.info("store", extra={"uses": store_description})
        log.info(
            "slack",
            extra={
                "uses": settings.SLACK_API_URL,
                "socket_mode": settings.SLACK_APP_TOKEN is not None,
            },
        )
        log.info(
            "approvalflow",
            extra={"uses": "live Atlassian" if settings.live else "built-in sandbox"},
        )
        yield Container(
            settings=settings,
            redis=redis,
            keys=keys,
            clock=clock,
            box=box,
            health=RedisHealth(redis),
            leases=leases,
            once=RedisOnceKeys(redis, keys),
            audit_log=audit_log,
            audit=audit,
            metrics=metrics,
            slack=slack,
            bolt=bolt,
            jobs=jobs,
            store_description=store_description,
        )
