"""manifest.yml (HTTP) and manifest.socket.yml validate and name what the code registers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from handlers.register import BOT_EVENTS, BOT_SCOPES, COMMAND

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/data/slack-app-manifest.schema.json").read_text())


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return data


@pytest.mark.parametrize("name", ["manifest.yml", "manifest.socket.yml"])
def test_manifest_validates_and_matches_the_code(name: str) -> None:
    manifest = load(name)
    jsonschema.validate(manifest, SCHEMA)
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [COMMAND]
    assert sorted(manifest["settings"]["event_subscriptions"]["bot_events"]) == sorted(BOT_EVENTS)
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_http_manifest_points_everything_at_slack_events() -> None:
    manifest = load("manifest.yml")
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls += [manifest["settings"]["event_subscriptions"]["request_url"]]
    urls += [manifest["settings"]["interactivity"]["request_url"]]
    assert all(url.endswith("/slack/events") for url in urls)
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_socket_manifest_has_no_urls() -> None:
    text = (ROOT / "manifest.socket.yml").read_text()
    assert "request_url" not in text and "url:" not in text
    assert load("manifest.socket.yml")["settings"]["socket_mode_enabled"] is True
