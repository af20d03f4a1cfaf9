"""Small Block Kit pieces every surface uses."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section(text: str) -> Block:
    # Slack caps section text at 3000 characters; cut with a visible marker rather than fail.
    if len(text) > 3000:
        text = text[:2990] + "\n…(cut)"
    return {"type": "section", "text": mrkdwn(text)}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}
