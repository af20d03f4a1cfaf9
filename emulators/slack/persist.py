"""Keeps an emulated workspace in a JSON file: people, channels, messages, views and files.

Triggers and response_urls are not kept: Slack's expire within seconds and minutes anyway.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from emulators.slack.emulator import FakeSlack
from emulators.slack.records import FakeFile, FakeMessage, FakeUser, FakeUsergroup, FakeView

log = logging.getLogger(__name__)

FORMAT = 1


def snapshot(slack: FakeSlack) -> dict[str, Any]:
    """Everything a person would expect to find again after a restart."""
    with slack._lock:
        return {
            "format": FORMAT,
            "users": [asdict(u) for u in slack.users.values()],
            "usergroups": [asdict(g) for g in slack.usergroups.values()],
            "channel_names": dict(slack.channel_names),
            "bot_channels": sorted(slack.bot_channels),
            "messages": [
                asdict(m) for channel in slack._channels.values() for m in channel.values()
            ],
            "ephemerals": [asdict(m) for m in slack._ephemerals],
            "views": [asdict(v) for v in slack.views.values()],
            "files": [_file_out(f) for f in slack.files.values()],
            "dm_ids": dict(slack._dm_ids),
            "stacks": {user: list(ids) for user, ids in slack._stacks.items()},
            "homes": dict(slack._homes),
            "last_ts_us": slack._last_ts_us,
        }


def restore(slack: FakeSlack, data: dict[str, Any]) -> None:
    """Load a snapshot into a fresh emulator; raises ValueError on an unknown format."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown workspace file format {data.get('format')!r}")
    with slack._lock:
        slack.users = {u["id"]: FakeUser(**u) for u in data["users"]}
        slack.usergroups = {g["id"]: FakeUsergroup(**g) for g in data["usergroups"]}
        slack.channel_names = dict(data["channel_names"])
        slack.bot_channels = set(data.get("bot_channels", data["channel_names"]))
        slack._channels = {}
        for raw in data["messages"]:
            message = FakeMessage(**raw)
            slack._channels.setdefault(message.channel, {})[message.ts] = message
        slack._ephemerals = [FakeMessage(**m) for m in data["ephemerals"]]
        slack.views = {v["id"]: FakeView(**v) for v in data["views"]}
        slack.files = {f["id"]: _file_in(f) for f in data["files"]}
        slack._dm_ids = dict(data["dm_ids"])
        slack._stacks = {user: list(ids) for user, ids in data["stacks"].items()}
        slack._homes = dict(data["homes"])
        slack._last_ts_us = int(data["last_ts_us"])


def load(slack: FakeSlack, path: Path) -> bool:
    """Restore from `path` if it holds a workspace; a damaged file is set aside, not fatal."""
    if not path.exists():
        return False
    try:
        restore(slack, json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        aside = path.with_suffix(".damaged.json")
        path.replace(aside)
        log.warning(
            "playground workspace unreadable; starting fresh",
            extra={"kept": str(aside), "error": str(exc)},
        )
        return False
    return True


def save(slack: FakeSlack, path: Path) -> None:
    """Write atomically: a crash mid-write leaves the previous file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(snapshot(slack), default=_jsonable)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def _file_out(file: FakeFile) -> dict[str, Any]:
    out = asdict(file)
    out["content"] = base64.b64encode(file.content).decode() if file.content is not None else None
    return out


def _file_in(raw: dict[str, Any]) -> FakeFile:
    content = raw.get("content")
    created = datetime.fromisoformat(raw["created"])
    return FakeFile(
        **{
            **raw,
            "created": created,
            "content": base64.b64decode(content) if content is not None else None,
        }
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot keep {type(value).__name__} in the workspace file")
