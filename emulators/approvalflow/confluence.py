"""Confluence Cloud REST API v2 as the gateway serves it: pages by id, spaces by key or id.

`GET {api}/ex/confluence/{cloudId}/wiki/api/v2/pages?id=1,2&limit=250` and `.../spaces?keys=ENG`
answer as Confluence documents them: at most 250 ids or keys a call (more is a 400), `limit`
1-250 (default 25), results sorted by id, `_links.next` (and a `Link` header) carrying an opaque
`cursor` while more remain. Only what the token's account may see is answered: unknown ids,
pages a restriction keeps the account out of, and (unless `status` asks) deleted and draft
pages are simply left out. The granular scopes are enforced: `read:page:confluence` for pages,
`read:space:confluence` for spaces, else 403.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.approvalflow.contract import GATEWAY_UNAUTHORIZED, iso
from emulators.approvalflow.errors import ConfluenceError, GatewayError
from emulators.approvalflow.models import Family, Page, Space
from emulators.approvalflow.routing import Handler, instrumented
from emulators.approvalflow.state import SandboxState

BASE_PATH = "/ex/confluence/{cloud_id}/wiki/api/v2"
API_PATH = "/wiki/api/v2"
READ_PAGE = "read:page:confluence"
READ_SPACE = "read:space:confluence"
MAX_FILTER = 250  # `id`, `keys`, `ids`: maxItems 250
MAX_LIMIT, DEFAULT_LIMIT = 250, 25
DEFAULT_PAGE_STATUSES = ("current", "archived")

Params = list[tuple[str, str]]
Lister = Callable[[SandboxState, Family, str, Request], tuple[list[dict[str, Any]], Params]]


def routes(state: SandboxState) -> list[BaseRoute]:
    return [
        Route(
            BASE_PATH + "/pages",
            instrumented(state, "confluence_pages", _gated(state, READ_PAGE, "/pages", _pages)),
            methods=["GET"],
            name="confluence_pages",
        ),
        Route(
            BASE_PATH + "/spaces",
            instrumented(state, "confluence_spaces", _gated(state, READ_SPACE, "/spaces", _spaces)),
            methods=["GET"],
            name="confluence_spaces",
        ),
    ]


def visible_pages(state: SandboxState, account_id: str, cloud_id: str) -> list[Page]:
    """Every page on the site the account may see, by id."""
    world = state.world
    return sorted(
        (
            page
            for page in world.pages.values()
            if world.spaces[page.space_id].site_id == cloud_id
            and account_id not in page.hidden_from
        ),
        key=lambda page: int(page.id),
    )


def page_view(state: SandboxState, page: Page) -> dict[str, Any]:
    """A page as GET /pages shows it (no body unless asked for; the bot never asks)."""
    space = state.world.spaces[page.space_id]
    edited_at = iso(page.edited_at) if page.edited_at else None
    return {
        "id": page.id,
        "status": page.status,
        "title": page.title,
        "spaceId": page.space_id,
        "parentId": None,
        "parentType": None,
        "position": None,
        "authorId": page.edited_by,
        "ownerId": page.edited_by,
        "createdAt": edited_at,
        "version": {
            "number": page.version,
            "message": "",
            "minorEdit": False,
            "authorId": page.edited_by,
            "createdAt": edited_at,
        },
        "body": {},
        "_links": {
            "webui": f"/spaces/{space.key}/pages/{page.id}/{quote(page.title.replace(' ', '+'))}",
            "editui": f"/pages/resumedraft.action?draftId={page.id}",
            "tinyui": f"/x/{page.id}",
        },
    }


def space_view(space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "key": space.key,
        "name": space.name,
        "type": "global",
        "status": "current",
        "authorId": None,
        "createdAt": None,
        "homepageId": None,
        "description": None,
        "icon": None,
        "_links": {"webui": f"/spaces/{space.key}"},
    }


def _gated(state: SandboxState, scope: str, path: str, lister: Lister) -> Handler:
    async def handle(request: Request) -> Response:
        family: Family | None = request.state.family
        cloud_id: str = request.path_params["cloud_id"]
        if family is None or cloud_id not in family.site_ids:
            raise GatewayError(401, GATEWAY_UNAUTHORIZED)
        if scope not in family.scopes:
            raise ConfluenceError(
                403, "FORBIDDEN", f"The token does not grant the required scope {scope}"
            )
        items, filters = lister(state, family, cloud_id, request)
        limit = _limit(request)
        after = _cursor(request.query_params.get("cursor"))
        remaining = [item for item in items if after is None or int(item["id"]) > after]
        shown = remaining[:limit]
        links: dict[str, Any] = {"base": f"{state.site(cloud_id).url}/wiki"}
        headers = {}
        if len(remaining) > limit:
            cursor = _encode_cursor(int(shown[-1]["id"]))
            query = urlencode([*filters, ("limit", str(limit)), ("cursor", cursor)])
            links["next"] = f"{API_PATH}{path}?{query}"
            headers["Link"] = f'<{links["next"]}>; rel="next", <{links["base"]}>; rel="base"'
        return JSONResponse({"results": shown, "_links": links}, headers=headers)

    return handle


def _pages(
    state: SandboxState, family: Family, cloud_id: str, request: Request
) -> tuple[list[dict[str, Any]], Params]:
    ids = _listed(request, "id")
    statuses = _listed(request, "status") or list(DEFAULT_PAGE_STATUSES)
    wanted = set(ids)
    pages = [
        page_view(state, page)
        for page in visible_pages(state, family.account_id, cloud_id)
        if (not wanted or page.id in wanted) and page.status in statuses
    ]
    return pages, [("id", ",".join(ids))] if ids else []


def _spaces(
    state: SandboxState, family: Family, cloud_id: str, request: Request
) -> tuple[list[dict[str, Any]], Params]:
    keys, ids = _listed(request, "keys"), _listed(request, "ids")
    spaces = sorted(
        (s for s in state.world.spaces.values() if s.site_id == cloud_id),
        key=lambda space: int(space.id),
    )
    found = [
        space_view(space)
        for space in spaces
        if (not keys or space.key in keys) and (not ids or space.id in ids)
    ]
    params: Params = [("keys", ",".join(keys))] if keys else []
    params += [("ids", ",".join(ids))] if ids else []
    return found, params


def _listed(request: Request, name: str) -> list[str]:
    """A list parameter: comma-separated, repeated, or both; at most 250 values."""
    values = [
        part.strip()
        for raw in request.query_params.getlist(name)
        for part in raw.split(",")
        if part.strip()
    ]
    if len(values) > MAX_FILTER:
        raise ConfluenceError(
            400, "INVALID_REQUEST_PARAMETER", f"{name}: size must be between 0 and {MAX_FILTER}"
        )
    if name in ("id", "ids") and not all(value.isdigit() for value in values):
        raise ConfluenceError(400, "INVALID_REQUEST_PARAMETER", f"{name}: must be integers")
    return values


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ConfluenceError(
            400, "INVALID_REQUEST_PARAMETER", f"limit: must be between 1 and {MAX_LIMIT}"
        )
    return int(raw)


def _encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"after:{after}".encode()).decode().rstrip("=")


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix, _, after = text.partition(":")
    if prefix != "after" or not after.isdigit():
        raise ConfluenceError(400, "INVALID_REQUEST_PARAMETER", "cursor: invalid cursor")
    return int(after)
