"""The Atlassian link's messages: the connect button, disconnect, and the link part of status."""

from __future__ import annotations

from handlers.blocks.common import Block, plain, section
from handlers.blocks.phrases import utc
from handlers.messages import (
    CONNECT_BUTTON,
    CONNECT_FALLBACK,
    CONNECT_REPAIRS,
    CONNECT_REPLACES,
    CONNECT_TEXT,
    CONNECTED_APPS_URL,
    DISCONNECTED,
    LINK_BROKEN,
    LINK_CONNECT_AGAIN,
    LINK_DETAILS,
    LINK_GRANT_MISSING,
    LINK_MISSING_NONE,
    LINK_NONE,
    LINK_OK,
    NOTHING_TO_DISCONNECT,
)
from services.linking import ConnectStart, LinkStatus

CONNECT_ACTION = "link_connect"


def plain_mrkdwn(text: str) -> str:
    """Text from Atlassian (a name, an email) shown literally: no mentions, no links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def account_label(link: LinkStatus) -> str:
    label = f"{link.name} ({link.email})" if link.email else link.name
    return plain_mrkdwn(label)


def connect_message(start: ConnectStart) -> tuple[str, list[Block]]:
    blocks = [section(CONNECT_TEXT.format(until=utc(start.expires_at)))]
    current = start.current
    if current is not None:
        note = CONNECT_REPAIRS if current.broken else CONNECT_REPLACES
        blocks.append(section(note.format(name=plain_mrkdwn(current.name), site=current.site_url)))
    blocks.append({"type": "actions", "elements": [connect_button(start.authorize_url)]})
    return CONNECT_FALLBACK.format(url=start.authorize_url), blocks


def connect_button(url: str) -> dict[str, object]:
    return {
        "type": "button",
        "action_id": CONNECT_ACTION,
        "text": plain(CONNECT_BUTTON),
        "url": url,
        "style": "primary",
    }


def disconnect_message(removed: LinkStatus | None) -> tuple[str, list[Block]]:
    if removed is None:
        text = NOTHING_TO_DISCONNECT
    else:
        text = DISCONNECTED.format(
            name=account_label(removed), site=removed.site_url, apps_url=CONNECTED_APPS_URL
        )
    return text, [section(text)]


def _codes(scopes: list[str]) -> str:
    return ", ".join(f"`{scope}`" for scope in scopes) or LINK_MISSING_NONE


def link_status_blocks(link: LinkStatus | None, connect_url: str | None = None) -> list[Block]:
    """The link's section of /approvals status; with `connect_url`, the button that fixes it."""
    if link is None:
        return [section(LINK_NONE)]
    head = (
        LINK_BROKEN.format(since=utc(link.broken_at)) if link.broken and link.broken_at else LINK_OK
    )
    details = LINK_DETAILS.format(
        site=link.site_url,
        account=f"{account_label(link)} `{link.account_id}`",
        granted=_codes(sorted(link.scopes)),
        missing=_codes(link.missing_scopes),
        refreshed=utc(link.last_refreshed_at),
        linked=utc(link.linked_at),
    )
    blocks = [section(f"{head}\n{details}")]
    if connect_url is not None:
        note = LINK_CONNECT_AGAIN if link.broken else LINK_GRANT_MISSING
        blocks.append(section(note))
        blocks.append({"type": "actions", "elements": [connect_button(connect_url)]})
    return blocks
