"""`/approvals status`: a title, then one or more blocks from each feature's section."""

from __future__ import annotations

from handlers.blocks.common import Block, section
from handlers.messages import STATUS_TITLE


def status_message(sections: list[list[Block]]) -> tuple[str, list[Block]]:
    blocks: list[Block] = [section(STATUS_TITLE)]
    for part in sections:
        blocks.append({"type": "divider"})
        blocks.extend(part)
    text = "\n\n".join(
        [STATUS_TITLE] + [b["text"]["text"] for part in sections for b in part if "text" in b]
    )
    return text[:3000], blocks
