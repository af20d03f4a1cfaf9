"""Baseline for bench.ack and bench.approve: a bare Bolt app that only acks, on the bot's stack.

It acks `/approvals` with a line of text (bench.ack) and any modal submission with nothing
(bench.approve replays the bot's signing-form posts to it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ACK_TEXT = "Usage: /approvals help"
ANY_CALLBACK = re.compile(".*")


def create_app(token: str, signing_secret: str, api_url: str) -> Starlette:
    """Bolt with the bot's settings (async, ack first) behind Starlette, with no middleware."""
    bolt = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url, timeout=10),
        signing_secret=signing_secret,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    @bolt.command("/approvals")
    async def approvals(ack: AsyncAck) -> None:
        await ack(text=ACK_TEXT, response_type="ephemeral")

    @bolt.view(ANY_CALLBACK)
    async def submitted(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3001")))
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    # Like the bot: the client carries the token, so Bolt must not also see it in the environment.
    token = os.environ.pop("SLACK_BOT_TOKEN")
    app = create_app(token, os.environ["SLACK_SIGNING_SECRET"], os.environ["SLACK_API_URL"])
    # The bot's uvicorn settings (bot/server.py), so only the app differs between the two.
    config = uvicorn.Config(
        app, host=args.host, port=args.port, lifespan="off", log_config=None, access_log=False
    )
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
