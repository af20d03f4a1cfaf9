"""SIGNING_POLICIES read at start: the YAML file, its group handles looked up, problems named.

Slack is asked at start for the workspace's user groups by handle (needed to read the file: a
start without them stops with one message) and for the members of each group a stage names, to
check `required` against them. A group Slack does not know is a problem like any other; a member
list Slack does not give (not answering, rate limited) leaves that stage's size unchecked and
the start goes on with a warning: membership changes after start anyway, and every signature
checks it afresh, so a slow Slack method should not keep the bot down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from services.errors import ApprovalsError, ConfigError, NotFound
from services.requests.policies import DEFAULT_BOOK, GROUP_ID, PolicyBook, parse_policies

log = logging.getLogger(__name__)

Handles = Callable[[], Awaitable[dict[str, str]]]
Members = Callable[[str], Awaitable[frozenset[str]]]


async def load_policies(
    path: Path | None, handles: Handles, members: Members | None = None
) -> PolicyBook:
    """The policy book of the file at `path` (None: today's one-signature behaviour). `handles`
    lists the workspace's user groups by handle; it is asked only if the file names one.
    `members` lists a group's members, asked once for each group a stage's signers name."""
    if path is None:
        return DEFAULT_BOOK
    place = f"SIGNING_POLICIES ({path})"
    document = read_document(path, place)
    groups: dict[str, str] = {}
    if _names_a_handle(document):
        try:
            groups = await handles()
        except ApprovalsError as exc:
            raise ConfigError(
                f"{place} names user groups by @handle, and Slack's list of user groups could "
                f"not be read ({exc}). The app needs the usergroups:read scope."
            ) from None
    listed = await _members(_signer_groups(document, groups), members, place)
    return parse_policies(document, groups, place, listed)


async def _members(
    wanted: set[str], members: Members | None, place: str
) -> dict[str, frozenset[str] | None]:
    """Each group's members (None: Slack knows no such group); a group Slack gives no answer
    for is left out, and so unchecked."""
    listed: dict[str, frozenset[str] | None] = {}
    if members is None:
        return listed
    for group in sorted(wanted):
        try:
            listed[group] = await members(group)
        except NotFound:
            listed[group] = None
        except ApprovalsError as exc:
            log.warning(
                "user group members could not be read at start; its stages' required is "
                "not checked against its size",
                extra={"source": place, "group": group, "error": str(exc)},
            )
    return listed


def _signer_groups(document: Any, groups: dict[str, str]) -> set[str]:
    """The user group ids named as signers anywhere in the document (read leniently: the
    parser names whatever is malformed)."""
    found: set[str] = set()
    policies = document.get("policies") if isinstance(document, dict) else None
    for body in policies.values() if isinstance(policies, dict) else ():
        stages = body.get("stages") if isinstance(body, dict) else None
        for stage in stages if isinstance(stages, list) else ():
            signers = stage.get("signers") if isinstance(stage, dict) else None
            for item in signers if isinstance(signers, list) else [signers]:
                text = str(item).strip()
                if GROUP_ID.fullmatch(text):
                    found.add(text)
                elif text.startswith("@") and text[1:] in groups:
                    found.add(groups[text[1:]])
    return found


def read_document(path: Path, place: str) -> Any:
    """The file's YAML as plain data (read once, at start, so blocking is fine)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{place} cannot be read: {exc.__class__.__name__}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{place} is not valid YAML{where}: {problem}") from None
    return document


def _names_a_handle(node: Any) -> bool:
    if isinstance(node, str):
        return node.strip().startswith("@")
    if isinstance(node, dict):
        return any(_names_a_handle(value) for value in node.values())
    if isinstance(node, list):
        return any(_names_a_handle(item) for item in node)
    return False
