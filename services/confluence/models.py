"""Confluence v2's answers for pages and spaces; lenient like every answer model of ours.

Only what an item is for is required (a page's `id` and `title`, a space's `id` and `key`); an
item without it is dropped by the list models rather than failing the whole answer, since one
odd page must not hide the titles of the others.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, ValidationError, field_validator

from services.approvalflow.models import Answer, Lenient


class Links(Answer):
    next: Lenient[str] = None
    webui: Lenient[str] = None
    base: Lenient[str] = None


class VersionInfo(Answer):
    number: Lenient[int] = None
    created_at: Lenient[AwareDatetime] = None
    author_id: Lenient[str] = None


class PageItem(Answer):
    id: str
    title: str
    status: Lenient[str] = None
    space_id: Lenient[str] = None
    version: Lenient[VersionInfo] = None


class SpaceItem(Answer):
    id: str
    key: str
    name: Lenient[str] = None


def _valid_items(model: type[BaseModel], value: Any) -> Any:
    if not isinstance(value, list):
        return value
    kept = []
    for item in value:
        try:
            kept.append(model.model_validate(item))
        except ValidationError:
            continue
    return kept


class PageList(Answer):
    """GET /wiki/api/v2/pages: `results` and `_links.next` (a relative URL with the cursor)."""

    results: tuple[PageItem, ...] = ()
    links: Lenient[Links] = Field(default=None, alias="_links")

    @field_validator("results", mode="before")
    @classmethod
    def _pages(cls, value: Any) -> Any:
        return _valid_items(PageItem, value)


class SpaceList(Answer):
    """GET /wiki/api/v2/spaces."""

    results: tuple[SpaceItem, ...] = ()
    links: Lenient[Links] = Field(default=None, alias="_links")

    @field_validator("results", mode="before")
    @classmethod
    def _spaces(cls, value: Any) -> Any:
        return _valid_items(SpaceItem, value)
