"""The two Confluence v2 endpoints the bot reads, their granular scopes and their limits."""

from __future__ import annotations

from dataclasses import dataclass

READ_PAGE = "read:page:confluence"
READ_SPACE = "read:space:confluence"
CONFLUENCE_SCOPES: tuple[str, ...] = (READ_PAGE, READ_SPACE)

# GET /pages takes at most 250 ids (the `id` parameter's maxItems) and returns at most 250
# results a page (`limit`, default 25); the same holds for /spaces and its `keys`/`ids`.
MAX_IDS = 250
MAX_LIMIT = 250
# A bulk read of 250 ids is one answer at limit 250; a cursor chain longer than this is a
# server misbehaving, not more data.
MAX_FOLLOWED_PAGES = 20
API_PREFIX = "/wiki/api/v2"


@dataclass(frozen=True)
class ConfluenceEndpoint:
    """One v2 read: its path under /wiki/api/v2 and the scope it needs. Every one is a GET
    that changes nothing, so timeouts, 429 and 5xx are retried."""

    name: str
    path: str
    scope: str
    repeatable: bool = True


PAGES = ConfluenceEndpoint("confluence_pages", "/pages", READ_PAGE)
SPACES = ConfluenceEndpoint("confluence_spaces", "/spaces", READ_SPACE)
ENDPOINTS: tuple[ConfluenceEndpoint, ...] = (PAGES, SPACES)
