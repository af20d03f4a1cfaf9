"""Registers every listener on the Bolt app: one `register` per listener module."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import errors, help, home
from handlers.deps import HandlerDeps
from handlers.slash import SubcommandRouter

COMMAND = "/approvals"
# What manifest.yml must declare; tests/unit/test_manifest.py holds the two together.
BOT_EVENTS = ["app_home_opened"]
BOT_SCOPES = ["commands", "chat:write", "im:write", "files:write", "users:read", "users:read.email"]


def register_all(app: AsyncApp, deps: HandlerDeps) -> SubcommandRouter:
    router = SubcommandRouter(sandbox=deps.sandbox)
    help.register(router)
    app.command(COMMAND)(router.dispatch)
    home.register(app, deps)
    errors.register(app)
    return router
