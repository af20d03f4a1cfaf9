"""Confluence Cloud's REST API v2 as each person: page titles, versions and spaces by key."""

from __future__ import annotations

from services.confluence.client import ConfluenceClient, ConfluenceSettings
from services.confluence.endpoints import CONFLUENCE_SCOPES, READ_PAGE, READ_SPACE
from services.confluence.ports import ConfluenceApi, ConfluencePage, ConfluenceSpace

__all__ = [
    "CONFLUENCE_SCOPES",
    "READ_PAGE",
    "READ_SPACE",
    "ConfluenceApi",
    "ConfluenceClient",
    "ConfluencePage",
    "ConfluenceSettings",
    "ConfluenceSpace",
]
