"""ConfluenceClient: Confluence Cloud v2 bulk reads (pages by id, spaces) as each person."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from services.approvalflow.exchange import Answer
from services.approvalflow.gateway import GatewayClient
from services.confluence import boundary
from services.confluence.endpoints import (
    API_PREFIX,
    MAX_FOLLOWED_PAGES,
    MAX_IDS,
    MAX_LIMIT,
    PAGES,
    SPACES,
    ConfluenceEndpoint,
)
from services.confluence.models import PageItem, PageList, SpaceItem, SpaceList
from services.confluence.ports import ConfluencePage, ConfluenceSpace
from services.errors import MissingScope, UpstreamUnavailable
from services.ports import Credential

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ConfluenceSettings:
    """Where the Atlassian gateway is (ATLASSIAN_API_URL) and how long to wait for it."""

    api_url: str = "https://api.atlassian.com"
    connect_timeout_seconds: float = 5.0
    timeout_seconds: float = 15.0

    def base_url_for(self, cloud_id: str) -> str:
        """`{api}/ex/confluence/{cloud_id}`: the gateway in front of the site's /wiki."""
        return f"{self.api_url.rstrip('/')}/ex/confluence/{quote(cloud_id, safe='')}"


class ConfluenceClient(GatewayClient[ConfluenceSettings]):
    """Confluence v2 as the acting Slack user; implements `ConfluenceApi`.

    Ids are read in batches of 250 (Confluence's limit on `id`), each batch following
    `_links.next` until the answer ends. A 401 refreshes the token once through the vault;
    timeouts, 429 and 5xx are retried with `backoff`. A grant without the endpoint's scope
    is told so before any call is made."""

    async def pages(self, user_id: str, page_ids: Sequence[str]) -> dict[str, ConfluencePage]:
        wanted = _unique(page_id for page_id in page_ids if page_id.isdigit())
        found: dict[str, ConfluencePage] = {}
        for batch in _batches(wanted):
            query = {"id": ",".join(batch), "limit": str(MAX_LIMIT)}
            for data in await self._listing(PAGES, user_id, query):
                for item in _parse(PageList, data, PAGES).results:
                    found[item.id] = _page(item)
        return {page_id: found[page_id] for page_id in wanted if page_id in found}

    async def spaces_by_key(self, user_id: str, keys: Sequence[str]) -> dict[str, ConfluenceSpace]:
        spaces = await self._spaces(user_id, "keys", _unique(keys))
        return {space.key: space for space in spaces}

    async def spaces_by_id(self, user_id: str, ids: Sequence[str]) -> dict[str, ConfluenceSpace]:
        spaces = await self._spaces(user_id, "ids", _unique(i for i in ids if i.isdigit()))
        return {space.space_id: space for space in spaces}

    async def _spaces(self, user_id: str, field: str, values: list[str]) -> list[ConfluenceSpace]:
        spaces: list[ConfluenceSpace] = []
        for batch in _batches(values):
            query = {field: ",".join(batch), "limit": str(MAX_LIMIT)}
            for data in await self._listing(SPACES, user_id, query):
                spaces += [_space(item) for item in _parse(SpaceList, data, SPACES).results]
        return spaces

    # --- one listing: the first answer and every `next` after it --------------------------

    async def _listing(
        self, endpoint: ConfluenceEndpoint, user_id: str, query: dict[str, str]
    ) -> list[dict[str, Any]]:
        credential = await self._credentials.access_token_for(user_id)
        if endpoint.scope not in credential.scopes:
            # Asking would only earn a 403: the grant predates this permission.
            raise MissingScope([endpoint.scope])
        base = self._settings.base_url_for(credential.cloud_id)
        url: str | None = base + API_PREFIX + endpoint.path
        params: dict[str, str] | None = query
        answers: list[dict[str, Any]] = []
        while url is not None:
            if len(answers) >= MAX_FOLLOWED_PAGES:
                raise UpstreamUnavailable(
                    f"{boundary.what(endpoint)}: its answer did not end after "
                    f"{MAX_FOLLOWED_PAGES} pages"
                )
            data, credential = await self._get(endpoint, user_id, credential, url, params)
            answers.append(data)
            url, params = _next_url(base, data), None
        return answers

    async def _get(
        self,
        endpoint: ConfluenceEndpoint,
        user_id: str,
        credential: Credential,
        url: str,
        params: dict[str, str] | None,
    ) -> tuple[dict[str, Any], Credential]:
        async def send(credential: Credential) -> Answer:
            return await self._request("GET", url, credential, query=params)

        response, credential = await self._send_as(
            user_id,
            credential,
            send,
            name=endpoint.name,
            repeatable=endpoint.repeatable,
            transport_error=lambda exc: boundary.transport_error(exc, endpoint),
            refusal=lambda answer, _: boundary.refusal(answer, endpoint, self._clock.now()),
        )
        return _json_object(response, endpoint), credential


def _next_url(base: str, data: dict[str, Any]) -> str | None:
    """The next page's address: `_links.next` is relative to the site (/wiki/api/v2/...);
    through the gateway it hangs under the same base. Anything else is not followed."""
    links = data.get("_links")
    following = links.get("next") if isinstance(links, dict) else None
    if not isinstance(following, str) or not following.startswith(API_PREFIX + "/"):
        return None
    return base + following


def _json_object(response: Answer, endpoint: ConfluenceEndpoint) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise UpstreamUnavailable(f"{boundary.what(endpoint)}: its answer was not a JSON object")
    return data


def _parse(model: type[M], data: dict[str, Any], endpoint: ConfluenceEndpoint) -> M:
    try:
        return model.model_validate(data)
    except ValidationError:
        raise UpstreamUnavailable(
            f"{boundary.what(endpoint)}: its answer was not in the expected shape"
        ) from None


def _page(item: PageItem) -> ConfluencePage:
    version = item.version
    return ConfluencePage(
        page_id=item.id,
        title=item.title,
        space_id=item.space_id,
        status=item.status,
        version=version.number if version is not None else None,
        edited_at=version.created_at if version is not None else None,
        edited_by=version.author_id if version is not None else None,
    )


def _space(item: SpaceItem) -> ConfluenceSpace:
    return ConfluenceSpace(space_id=item.id, key=item.key, name=item.name or item.key)


def _unique(values: Iterator[str] | Sequence[str]) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in values if value.strip()))


def _batches(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), MAX_IDS):
        yield values[start : start + MAX_IDS]
