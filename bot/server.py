"""`serve` and `worker`: run the web app under uvicorn and/or the jobs, and stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any

import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.config import Settings
from bot.playground import PLAYGROUND_MOUNT
from bot.web import create_web_app
from bot.wiring import Container, build

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a server with Slack credentials listens on all
GC_YOUNG_THRESHOLD = 20_000  # allocations between young collections (Python's default: 700)


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its own shutdown, which would kill us before we close
    the store and stop the embedded redis-server; we keep its graceful stop and skip that."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


async def drain_background_work(
    long_lived: AbstractSet[asyncio.Task[Any]], wait_seconds: float = DRAIN_SECONDS
) -> None:
    """Let listener work Bolt started after an ack finish before the store closes.

    Tasks in `long_lived` were running before serving began (the playground's saver, say): they
    last as long as the container and stop when it closes, so waiting for them here would only
    hold every exit for the whole `wait_seconds`. Work still running after it is left for
    recovery (leases and idempotency keys expire; the jobs pick it up again).
    """
    current = asyncio.current_task()
    pending = [
        t for t in asyncio.all_tasks() if t is not current and t not in long_lived and not t.done()
    ]
    if pending:
        await asyncio.wait(pending, timeout=wait_seconds)


def listen_host(requested: str | None, *, playground: bool) -> str:
    """The operator's --host when given; else loopback in playground mode (whoever reaches the
    playground can act as anyone in it) and every interface otherwise."""
    if requested:
        return requested
    return LOOPBACK if playground else ALL_INTERFACES


async def serve(
    settings: Settings,
    *,
    socket_mode: bool,
    run_jobs: bool,
    host: str | None = None,
) -> None:
    async with build(settings) as container:
        web = create_web_app(container)
        config = uvicorn.Config(
            web,
            host=listen_host(host, playground=container.playground is not None),
            port=settings.PORT,
            lifespan="off",
            log_config=None,
            access_log=False,
        )
        server = _Server(config)
        socket_handler = await _start_socket_mode(container) if socket_mode else None
        if run_jobs:
            container.jobs.start()
        log.info(
            "serving",
            extra={
                "host": config.host,
                "port": settings.PORT,
                "socket_mode": socket_mode,
                "jobs": run_jobs,
            },
        )
        if container.playground is not None:
            # The one line a person trying the bot needs; plain, so it stands out of the JSON.
            print(f"Playground: http://localhost:{settings.PORT}{PLAYGROUND_MOUNT}", flush=True)
        # Everything built so far lives as long as the process. Frozen, it is no longer walked
        # by every full garbage collection, which under load was the bot's p99 (bench/ack.py).
        gc.collect()
        gc.freeze()
        # A request allocates thousands of short-lived objects (parsed bodies, Block Kit, HTTP
        # messages) and nearly all die by reference count. With the default 700 allocations
        # per young collection, collecting cost about 5% of the CPU per approval
        # (bench/approve.py); cycles are still collected, just in larger batches.
        gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)
        long_lived = asyncio.all_tasks()
        try:
            # uvicorn stops accepting on SIGTERM/SIGINT and waits for in-flight requests.
            await server.serve()
        finally:
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]
            await container.jobs.stop()
            await drain_background_work(long_lived)
        log.info("stopped")


async def _start_socket_mode(container: Container) -> AsyncSocketModeHandler:
    token = container.settings.SLACK_APP_TOKEN
    if token is None:
        raise SystemExit("--socket needs SLACK_APP_TOKEN (an xapp- token with connections:write)")
    handler = AsyncSocketModeHandler(container.bolt, token.get_secret_value())
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler


async def work(settings: Settings) -> None:
    """`approvals-bot worker`: only the background jobs, until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with build(settings) as container:
        container.jobs.start()
        log.info("worker running", extra={"jobs": [job.name for job in container.jobs.jobs]})
        await stop.wait()
        await container.jobs.stop()
    log.info("worker stopped")
