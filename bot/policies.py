"""SIGNING_POLICIES read at start: the YAML file, its group handles looked up, problems named."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from services.errors import ApprovalsError, ConfigError
from services.requests.policies import DEFAULT_BOOK, PolicyBook, parse_policies

Handles = Callable[[], Awaitable[dict[str, str]]]


async def load_policies(path: Path | None, handles: Handles) -> PolicyBook:
    """The policy book of the file at `path` (None: today's one-signature behaviour). `handles`
    lists the workspace's user groups by handle; it is asked only if the file names one."""
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
    return parse_policies(document, groups, place)


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
