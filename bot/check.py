"""`approvals-bot check`: one line per dependency, saying what it is and whether it answers."""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.wiring import Container
from services.errors import StoreError


async def check_lines(container: Container) -> tuple[bool, list[str]]:
    settings: Settings = container.settings
    lines: list[str] = []
    healthy = True

    def line(part: str, verdict: str, detail: str) -> None:
        lines.append(f"{part:<12} {verdict:<7} {detail}")

    if container.playground is not None:
        # No Slack credentials: `serve` answers as Slack itself, at /playground.
        line("slack", "ok", "playground: an emulated workspace `serve` shows at /playground")
    else:
        healthy = await _check_slack(container, line) and healthy

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
    return healthy, lines


async def _check_slack(container: Container, line: Callable[[str, str, str], None]) -> bool:
    url = container.settings.SLACK_API_URL
    try:
        auth = await container.slack.auth_test()
    except SlackApiError as exc:
        line("slack", "failed", f"auth.test said {exc.response.get('error')} ({url})")
        return False
    except (SlackClientError, OSError, TimeoutError) as exc:
        line("slack", "failed", f"{type(exc).__name__}: cannot reach {url}")
        return False
    line("slack", "ok", f"team {auth.get('team')} as {auth.get('user')} via {url}")
    return True
