"""What features read from Confluence, as the acting person; `ConfluenceClient` implements it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ConfluencePage:
    """A page as the person's token sees it: title, space, and its current version with who
    made it and when (UTC)."""

    page_id: str
    title: str
    space_id: str | None = None
    status: str | None = None
    version: int | None = None
    edited_at: datetime | None = None
    edited_by: str | None = None  # Atlassian account id of the version's author


@dataclass(frozen=True)
class ConfluenceSpace:
    space_id: str
    key: str
    name: str


class ConfluenceApi(Protocol):
    """Bulk reads of Confluence v2 as the Slack user `user_id` (their own 3LO token).

    Pages and spaces the person cannot see, and unknown ids or keys, are left out of the
    answer, exactly as Confluence leaves them out: never an error."""

    async def pages(self, user_id: str, page_ids: Sequence[str]) -> dict[str, ConfluencePage]:
        """Pages by id, read in as few bulk calls as Confluence's 250-id limit allows."""
        ...

    async def spaces_by_key(self, user_id: str, keys: Sequence[str]) -> dict[str, ConfluenceSpace]:
        """Spaces by key (keys compared as Confluence stores them, upper case)."""
        ...

    async def spaces_by_id(self, user_id: str, ids: Sequence[str]) -> dict[str, ConfluenceSpace]:
        """Spaces by numeric id."""
        ...
