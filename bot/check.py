"""`approvals-bot check`: one line per dependency, saying what it is and whether it answers."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio.cluster import RedisCluster
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.stores.cluster_state import SLOTS, cluster_state
from bot.wiring import Container
from services.errors import ConfigError, StoreError


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
        line("store", "failed", f"{container.store_description}: {exc}")
    if isinstance(container.redis, RedisCluster):
        lines.extend(await cluster_lines(container.redis))

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


async def cluster_lines(redis: RedisCluster) -> list[str]:
    """One line per node of the cluster: address, role, state, and its slots or its master."""
    try:
        state = await cluster_state(redis)
    except StoreError:
        return []  # the store line already says that no node answers
    lines = [f"{'':<12} cluster_state {state.state}, {state.slots_ok} of {SLOTS} slots served"]
    for node in state.nodes:
        holds = f"{node.slots} slots" if node.role == "master" else f"replica of {node.master}"
        lines.append(f"{'':<12} node {node.address:<21} {node.role:<7} {node.state:<12} {holds}")
    return lines
