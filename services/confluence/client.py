"""ConfluenceClient: Confluence Cloud v2 bulk reads (pages by id, spaces) as each person."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from services.approvalflow.boundary import HTTPX_ERRORS, Retry
from services.approvalflow.retry import Backoff
from services.clock import SystemClock
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
from services.ports import Clock, Credential, Credentials

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class ConfluenceSettings:
    """Where the Atlassian gateway is (ATLASSIAN_API_URL) and how long to wait for it."""

    api_url: str = "https://api.atlassian.com"
    connect_timeout_seconds: float = 5.0
    timeout_seconds: float = 15.0

    def base_url_for(self, cloud_id: str) -> str:
        """`{api}/ex/confluence/{cloud_id}`: the gateway in front of the site's /wiki."""
        return f"{self.api_url.rstrip('/')}/ex/confluence/{quote(cloud_id, safe='')}"


class ConfluenceClient:
    """Confluence v2 as the acting Slack user; implements `ConfluenceApi`.

    Ids are read in batches of 250 (Confluence's limit on `id`), each batch following
    `_links.next` until the answer ends. A 401 refreshes the token once through the vault;
    timeouts, 429 and 5xx are retried with `backoff`. A grant without the endpoint's scope
    is told so before any call is made."""

    def __init__(
        self,
        settings: ConfluenceSettings,
        credentials: Credentials,
        *,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(
                settings.timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "approvals-bot"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ConfluenceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

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
        refreshed = False
        tries = 0
        while True:
            tries += 1
            started = time.monotonic()
            headers = {"Authorization": f"Bearer {credential.access_token}"}
            try:
                response = await self._http.get(url, params=params, headers=headers)
            except HTTPX_ERRORS as exc:
                error, transient = boundary.transport_error(exc, endpoint)
                delay = self._backoff.delay(tries, None, self._jitter) if transient else None
                _log(endpoint, user_id, tries, started, type(exc).__name__)
                if delay is None:
                    raise error from exc
                await self._sleep(delay)
                continue
            _log(endpoint, user_id, tries, started, response.status_code)
            if response.is_success:
                return _json_object(response, endpoint), credential
            refusal = boundary.refusal(response, endpoint, self._clock.now())
            if refusal.retry is Retry.REFRESH and not refreshed:
                credential = await self._credentials.after_rejection(user_id, credential)
                refreshed = True
                tries -= 1
                continue
            if refusal.retry is Retry.BACKOFF:
                delay = self._backoff.delay(tries, refusal.retry_after, self._jitter)
                if delay is not None:
                    await self._sleep(delay)
                    continue
            raise refusal.error


def _next_url(base: str, data: dict[str, Any]) -> str | None:
    """The next page's address: `_links.next` is relative to the site (/wiki/api/v2/...);
    through the gateway it hangs under the same base. Anything else is not followed."""
    links = data.get("_links")
    following = links.get("next") if isinstance(links, dict) else None
    if not isinstance(following, str) or not following.startswith(API_PREFIX + "/"):
        return None
    return base + following


def _json_object(response: httpx.Response, endpoint: ConfluenceEndpoint) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
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


def _log(
    endpoint: ConfluenceEndpoint, user_id: str, tries: int, started: float, outcome: object
) -> None:
    log.debug(
        "confluence call",
        extra={
            "endpoint": endpoint.name,
            "user": user_id,
            "try": tries,
            "outcome": outcome,
            "ms": round((time.monotonic() - started) * 1000),
        },
    )
