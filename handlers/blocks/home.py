"""The App Home tab."""

from __future__ import annotations

from typing import Any

from handlers.blocks.common import Block, context, section
from handlers.messages import HELP_TITLE, help_text


def home_view(sections: list[Block]) -> dict[str, Any]:
    """A Home view: the features' sections (status, pending requests), then how to use the bot."""
    blocks: list[Block] = [section(HELP_TITLE), *sections, {"type": "divider"}]
    blocks.append(section(help_text().split("\n", 2)[2]))
    blocks.append(context("Type `/approvals help` in any channel for this list."))
    return {"type": "home", "blocks": blocks}
