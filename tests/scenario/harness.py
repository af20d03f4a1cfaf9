"""Runs the real bot (composition root, Bolt, Starlette, uvicorn) on a free port for a test."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from bot.config import Settings, load_settings
from bot.web import create_web_app
from bot.wiring import Container, build
from emulators.slack.signing import command_body, interactive_body, signed_headers
from services.outbound_tls import shared_tls_context
from services.secretbox import new_key
from testkit.redis_server import free_port

SIGNING_SECRET = "test-signing-secret"


def bot_environment(slack_api_url: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """The bot against a Slack at `slack_api_url` (the emulator the test started)."""
    slack = {
        "SLACK_BOT_TOKEN": "xoxb-test-bot",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
    }
    return playground_environment(redis_url, **slack, **overrides)


def playground_environment(redis_url: str, **overrides: str) -> dict[str, str]:
    """No Slack credentials: the bot serves its own emulated workspace at /playground."""
    env = {
        "ENCRYPTION_KEYS": new_key(),
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": "test:",
        "LOG_LEVEL": "DEBUG",
    }
    env.update(overrides)
    return env


@dataclass
class RunningBot:
    """The bot under test and an HTTP client that sends it signed Slack requests."""

    url: str
    container: Container
    http: httpx.AsyncClient
    secret: str = SIGNING_SECRET
    sent: list[str] = field(default_factory=list)

    async def post_signed(self, body: str, content_type: str, **sign: Any) -> httpx.Response:
        """Slack's post and the bot's answer, once the news that follows the answer (a
        signature's message update, thread reply and DMs) has been sent too."""
        headers = signed_headers(self.secret, body, content_type=content_type, **sign)
        response = await self.http.post(f"{self.url}/slack/events", content=body, headers=headers)
        await self.settled()
        return response

    async def settled(self) -> None:
        """Wait for the work the bot does after answering a signer."""
        await self.container.after_answer.drain()

    async def command(self, text: str, **fields: str) -> httpx.Response:
        body = command_body(text, **fields)
        return await self.post_signed(body, "application/x-www-form-urlencoded")

    async def interact(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.post_signed(
            interactive_body(payload), "application/x-www-form-urlencoded"
        )


@asynccontextmanager
async def running_bot(environ: dict[str, str], *, clock: Any = None) -> AsyncIterator[RunningBot]:
    port = free_port()
    # A DATA_DIR of its own (the sandbox persists there), so no test sees another's sandbox.
    async with AsyncExitStack() as stack:
        if "DATA_DIR" not in environ:
            environ = {**environ, "DATA_DIR": stack.enter_context(tempfile.TemporaryDirectory())}
        settings: Settings = load_settings({**environ, "PORT": str(port)})
        async with _serving(settings, port, clock) as running:
            yield running


@asynccontextmanager
async def _serving(settings: Settings, port: int, clock: Any) -> AsyncIterator[RunningBot]:
    async with build(settings, clock=clock) as container:
        web = create_web_app(container)
        config = uvicorn.Config(
            web, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
        )
        server = uvicorn.Server(config)
        # The test owns signals; uvicorn must not install its handlers inside the test loop.
        server.capture_signals = nullcontext  # type: ignore[method-assign,assignment]
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(timeout=10, verify=shared_tls_context()) as http:
            try:
                yield RunningBot(url=f"http://127.0.0.1:{port}", container=container, http=http)
            finally:
                server.should_exit = True
                await task


@contextmanager
def bot_in_thread(environ: dict[str, str]) -> Iterator[RunningBot]:
    """`running_bot` served from a background thread with its own event loop, for synchronous
    tests (hypothesis drives examples from plain functions)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    holder: list[RunningBot] = []
    failure: list[BaseException] = []

    async def serve() -> None:
        try:
            async with running_bot(environ) as running:
                holder.append(running)
                ready.set()
                await stop.wait()
        except BaseException as exc:  # surfaced in the calling thread below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(30)
    try:
        if failure:
            raise failure[0]
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
