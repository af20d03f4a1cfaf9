"""Registers every listener on the Bolt app: one `register` per listener module."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import (
    admin,
    approval_token,
    errors,
    evidence,
    help,
    home,
    lifecycle,
    linking,
    requests,
    signing,
    status,
)
from handlers.deps import HandlerDeps
from handlers.slash import SubcommandRouter

COMMAND = "/approvals"
# What manifest.yml must declare; tests/unit/test_manifest.py holds the two together.
BOT_EVENTS = ["app_home_opened", *lifecycle.LIFECYCLE_EVENTS]
BOT_SCOPES = [
    "commands",
    "chat:write",
    "im:write",
    "files:write",
    "users:read",
    "users:read.email",
    "usergroups:read",  # @group reviewers (usergroups.users.list)
    "channels:read",  # channel_archive, channel_left, channel_deleted
    "groups:read",  # the same for private channels
]


def register_all(app: AsyncApp, deps: HandlerDeps) -> SubcommandRouter:
    router = SubcommandRouter(slack=deps.slack)
    # Bolt tries listeners in order, and ruling one out costs about 20 µs (it builds the
    # listener's arguments for each matcher): the slash command, the busiest, goes first, then
    # signing, whose modal submission is the bulk of a busy day's interactions.
    app.command(COMMAND)(router.dispatch)
    signing.register(
        app,
        router,
        deps.requests,
        deps.linking,
        deps.tokens,
        deps.slack,
        deps.enrolment_dms,
        deps.leases,
    )
    help.register(router)
    linking.register(app, router, deps.linking)
    approval_token.register(app, router, deps)
    admin.register(app, router, deps.admin, deps.slack)
    requests.register(
        router,
        deps.requests,
        deps.admin.access,
        deps.linking,
        approvals_channel=deps.approvals_channel,
    )
    evidence.register(app, router, deps.evidence, deps.slack)
    # /approvals status: one section per feature; add yours to this list.
    status.register(
        router,
        [
            linking.link_status_section(deps.linking),
            approval_token.token_status_section(deps.tokens),
        ],
    )
    home.register(app, deps)
    lifecycle.register(app, deps.workspace)
    errors.register(app, deps.slack)
    return router
