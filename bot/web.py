"""The HTTP surface: Slack events, health, metrics (and the routes features add)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncBoltRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.link_routes import link_routes
from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.playground import PLAYGROUND_MOUNT
from bot.slack_edge import SlackEdge
from bot.wiring import SANDBOX_MOUNT, Container
from emulators.slack.playground.app import PlaygroundPages
from services.errors import StoreError

KNOWN_ROUTES = ("/slack/events", "/healthz", "/metrics", "/atlassian/callback")
MOUNTED_ROUTES = (SANDBOX_MOUNT, PLAYGROUND_MOUNT)


class MetricsMiddleware:
    """Counts and times every HTTP request by route (unknown paths share one label)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = (
            path
            if path in KNOWN_ROUTES
            else next((p for p in MOUNTED_ROUTES if path.startswith(p)), "other")
        )
        status = 500
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.http_served(route, status, time.perf_counter() - started)


def slack_kind(content_type: str, body: str) -> str:
    """What Slack sent, from the raw body: a slash command, an interaction, or an event."""
    if content_type.startswith("application/json"):
        return "event"
    # A form body starting with "{" is an interaction's payload the edge decoded for Bolt
    # (a command's never does: the edge re-encodes it).
    return "interactive" if body.startswith(("payload=", "{")) else "command"


def create_web_app(container: Container, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    edge = SlackEdge(container.slack_access.signing_secret, container.leases)

    dispatched = {
        kind: container.metrics.slack_dispatched.labels(kind)
        for kind in ("command", "interactive", "event")
    }

    async def slack_events(request: Request) -> Response:
        verdict = await edge.admit(request)
        if verdict.status is not None:
            return Response(status_code=verdict.status)
        # The edge verified the signature; Bolt gets the body it can read (bot/slack_edge.py).
        bolt_request = AsyncBoltRequest(
            body=verdict.body,
            query=request.query_params,  # type: ignore[arg-type]
            headers=request.headers,  # type: ignore[arg-type]
        )
        response = to_starlette_response(await container.bolt.async_dispatch(bolt_request))
        dispatched[slack_kind(request.headers.get("content-type", ""), verdict.body)].inc()
        return response

    async def healthz(request: Request) -> Response:
        try:
            ok = await container.health.ping()
        except StoreError as exc:
            return JSONResponse({"ok": False, "store": str(exc)}, status_code=503)
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(container.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *link_routes(container),
        *playground_routes(container),
        *extra_routes,
    ]
    app = Starlette(routes=routes)
    app.add_middleware(MetricsMiddleware, metrics=container.metrics)
    return app


def playground_routes(container: Container) -> list[BaseRoute]:
    """The playground's pages and emulated Web API; never with Slack credentials, since
    whoever reaches /playground may act as anyone in it."""
    playground = container.playground
    if playground is None:
        return []
    pages = PlaygroundPages(
        playground.slack,
        playground.delivery,
        base=PLAYGROUND_MOUNT,
        confluence_url=f"{SANDBOX_MOUNT}/_sandbox/confluence",
    )
    # The printed URL has no trailing slash: answer it as it is rather than redirect.
    return [
        Route(PLAYGROUND_MOUNT, pages.page, methods=["GET"]),
        Mount(PLAYGROUND_MOUNT, routes=pages.routes()),
    ]
