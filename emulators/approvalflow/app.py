"""The sandbox's Starlette app and its uvicorn server (`approvals-bot sandbox --port N`)."""

from __future__ import annotations

import gc

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from emulators.approvalflow import admin, api, confluence, oauth, reviewer_page
from emulators.approvalflow.state import SandboxState


def create_sandbox_app(state: SandboxState | None = None) -> Starlette:
    """One app for everything: 3LO at /authorize and /oauth/token, the gateway at /me,
    /oauth/token/accessible-resources, /svc/... (ApprovalFlow) and /ex/confluence/... (Confluence
    v2), and the controls at /_sandbox/.
    It works at the root and mounted under a prefix."""
    state = state or SandboxState()
    app = Starlette(
        routes=[
            *oauth.routes(state),
            *api.routes(state),
            *confluence.routes(state),
            Mount("/_sandbox", routes=[*admin.routes(state), *reviewer_page.routes(state)]),
        ]
    )
    app.state.sandbox = state
    return app


def sandbox_server(
    host: str, port: int, state: SandboxState | None = None, *, shutdown_seconds: int = 2
) -> uvicorn.Server:
    """A uvicorn server for the sandbox; `serve()` it, set `should_exit` to stop it."""
    config = uvicorn.Config(
        create_sandbox_app(state),
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_config=None,  # keep the process's own logging setup (JSON lines in the bot)
        # A request hanging on an injected fault must not hold a shutdown for long.
        timeout_graceful_shutdown=shutdown_seconds,
    )
    return uvicorn.Server(config)


async def serve_sandbox(host: str, port: int, state: SandboxState | None = None) -> None:
    """Serve the sandbox until cancelled or signalled; save its state on the way out."""
    state = state or SandboxState()
    # The loaded world lives as long as the server: kept out of the collector's passes, which
    # otherwise walk every user, page and change set of it again and again while answering.
    gc.freeze()
    try:
        await sandbox_server(host, port, state).serve()
    finally:
        state.flush()
