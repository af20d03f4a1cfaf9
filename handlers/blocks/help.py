"""The help message, optionally headed by the exact problem with what the user typed."""

from __future__ import annotations

from handlers.blocks.common import Block, section
from handlers.messages import help_text


def help_blocks(problem: str | None) -> tuple[str, list[Block]]:
    text = help_text()
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f":warning: {problem}"))
        text = f"{problem}\n\n{text}"
    blocks.append(section(help_text()))
    return text, blocks
