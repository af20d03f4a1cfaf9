"""`approvals-bot check`: one line per dependency, saying what it is and whether it answers."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.wiring import Container
from services.errors import ConfigError, StoreError


async def check_lines(container: Container) -> tuple[bool, list[str]]:
    settings: Settings = container.settings
    lines: list[str] = []
    healthy = True

    def line(part: str, verdict: str, detail: str) -> None:
        lines.append(f"{part:<12} {verdict:<7} {detail}")

    try:
        auth = await container.slack.auth_test()
        line(
            "slack",
            "ok",
            f"team {auth.get('team')} as {auth.get('user')} via {settings.SLACK_API_URL}",
        )
    except SlackApiError as exc:
        healthy = False
        line(
            "slack",
            "failed",
            f"auth.test said {exc.response.get('error')} ({settings.SLACK_API_URL})",
        )
    except (SlackClientError, OSError, TimeoutError) as exc:
        healthy = False
        line("slack", "failed", f"{type(exc).__name__}: cannot reach {settings.SLACK_API_URL}")

    try:
        await container.health.ping()
        line("store", "ok", container.store_description)
    except StoreError as exc:
        healthy = False
        line("store", "failed", str(exc))

    if settings.live:
        where = f"Atlassian at {settings.ATLASSIAN_API_URL}, site {settings.CONFLUENCE_SITE_URL}"
        line("approvalflow", "live", where)
    else:
        line(
            "approvalflow", "sandbox", "built-in ApprovalFlow sandbox (no Atlassian settings given)"
        )

    try:
        line("evidence", "ok", container.evidence.renderer_ready())
    except ConfigError as exc:
        healthy = False
        line("evidence", "failed", str(exc))
    return healthy, lines
