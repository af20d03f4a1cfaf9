"""ApprovalFlowClient: ApprovalFlow's 9 REST endpoints, as each person's own account."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, Unpack
from urllib.parse import quote

from pydantic import ValidationError

from services.approvalflow import boundary
from services.approvalflow.endpoints import (
    ARCHIVE_CHANGE_SET,
    CHANGE_SET_DETAIL,
    CREATE_CHANGE_SET,
    LIST_CHANGE_SETS,
    PREFLIGHT_CHANGE_SET,
    PREFLIGHT_PAGE,
    SUBMIT_CHANGE_SET,
    SUBMIT_PAGE,
    UPDATE_CHANGE_SET,
    Endpoint,
    Method,
)
from services.approvalflow.exchange import Answer
from services.approvalflow.gateway import GatewayClient, GatewayOptions
from services.approvalflow.models import (
    Body,
    ChangeSet,
    ChangeSetDetail,
    ChangeSetId,
    ChangeSetList,
    ChangeSetPreflight,
    ChangeSetSaved,
    ChangeSetSubmission,
    ChangeSetUpdate,
    NewChangeSet,
    PageId,
    PagePreflight,
    PageSubmitResult,
    SpaceQuery,
    single_page_answer,
)
from services.errors import ConfigError, IncompleteCall
from services.ports import Credential, Credentials

log = logging.getLogger(__name__)

# Connections to ApprovalFlow, open at once and kept alive, over all pools.
MAX_CONNECTIONS, MAX_KEEPALIVE, POOLS = 200, 96, 8

B = TypeVar("B", bound=Body)


@dataclass(frozen=True)
class ApprovalFlowSettings:
    """What the client needs of §5: where ApprovalFlow is, and how long to wait for it."""

    api_url: str = "https://api.atlassian.com"  # ATLASSIAN_API_URL
    app_id: str | None = None  # APPROVALFLOW_APP_ID
    env_id: str | None = None  # APPROVALFLOW_ENV_ID
    base_url: str | None = None  # APPROVALFLOW_BASE_URL (the site gateway pattern)
    connect_timeout_seconds: float = 5.0
    # Forge functions may take a while (a bulk submit posts a comment per page).
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not self.base_url and not (self.app_id and self.env_id):
            raise ConfigError(
                "ApprovalFlow needs APPROVALFLOW_APP_ID and APPROVALFLOW_ENV_ID, "
                "or APPROVALFLOW_BASE_URL"
            )

    def base_url_for(self, cloud_id: str) -> str:
        """`{api}/svc/confluence/{cloud_id}/apps/{app}_{env}`, or APPROVALFLOW_BASE_URL."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return (
            f"{self.api_url.rstrip('/')}/svc/confluence/{quote(cloud_id, safe='')}"
            f"/apps/{quote(f'{self.app_id}_{self.env_id}', safe='')}"
        )


class ApprovalFlowClient(GatewayClient[ApprovalFlowSettings]):
    """ApprovalFlow's REST API as the acting Slack user; implements `ApprovalFlowApi`.

    Each call takes the user's token from `credentials`; a 401 asks the vault to refresh once
    and repeats the call (the gateway refused it before ApprovalFlow ran, so even a submit is
    safe to repeat). Reads and preflights are retried on timeouts, 429 and 5xx with `backoff`;
    writes never are. Every failure leaves as one of our errors (see `boundary`)."""

    # Over httpx (no exchange given): httpcore's pool looks at every connection it holds (and,
    # for each idle one, at every connection again) on each request and each response: with 50
    # signers at once that scan cost a fifth of the bot's CPU (bench/approve.py). Several small
    # pools, taken in turn, keep each scan short. Every signer's calls share them: enough
    # connections stay alive for a busy minute instead of being reopened (httpx keeps only 20 by
    # default).
    pools = POOLS
    connections = (MAX_CONNECTIONS, MAX_KEEPALIVE)

    def __init__(
        self,
        settings: ApprovalFlowSettings,
        credentials: Credentials,
        **options: Unpack[GatewayOptions],
    ) -> None:
        super().__init__(settings, credentials, **options)
        self._urls: dict[tuple[str, str], str] = {}  # built once per site and endpoint

    # --- the 9 endpoints -------------------------------------------------------------------

    async def list_change_sets(self, user_id: str, space_id: str) -> tuple[ChangeSet, ...]:
        """Every change set in the space (by space id, not key), with rollup state (§2.1)."""
        query = _body(SpaceQuery, space_id=space_id)
        data = await self._call(LIST_CHANGE_SETS, user_id, query=query)
        return boundary.parse_answer(ChangeSetList, data, LIST_CHANGE_SETS).change_sets

    async def change_set_detail(self, user_id: str, change_set_id: str) -> ChangeSet:
        """One change set with per-page versions: current, approved at, stale, delta (§2.2)."""
        query = _body(ChangeSetId, change_set_id=change_set_id)
        data = await self._call(CHANGE_SET_DETAIL, user_id, query=query)
        return boundary.parse_answer(ChangeSetDetail, data, CHANGE_SET_DETAIL).change_set

    async def create_change_set(
        self,
        user_id: str,
        *,
        space_id: str,
        title: str,
        page_ids: Sequence[str],
        summary: str | None = None,
        reference_url: str | None = None,
    ) -> ChangeSetSaved:
        """A new change set of pages in one space (§2.3)."""
        body = _body(
            NewChangeSet,
            space_id=space_id,
            title=title,
            summary=summary,
            reference_url=reference_url,
            page_refs=_refs(page_ids),
        )
        data = await self._call(CREATE_CHANGE_SET, user_id, body=body)
        return boundary.parse_answer(ChangeSetSaved, data, CREATE_CHANGE_SET)

    async def update_change_set(
        self,
        user_id: str,
        change_set_id: str,
        *,
        title: str | None = None,
        summary: str | None = None,
        reference_url: str | None = None,
        page_ids: Sequence[str] | None = None,
    ) -> ChangeSetSaved:
        """Change the fields given; `page_ids` replaces the whole page list (§2.4)."""
        body = _body(
            ChangeSetUpdate,
            change_set_id=change_set_id,
            title=title,
            summary=summary,
            reference_url=reference_url,
            page_refs=_refs(page_ids) if page_ids is not None else None,
        )
        data = await self._call(UPDATE_CHANGE_SET, user_id, body=body)
        return boundary.parse_answer(ChangeSetSaved, data, UPDATE_CHANGE_SET)

    async def archive_change_set(self, user_id: str, change_set_id: str) -> ChangeSetSaved:
        """Archive a change set; it is read-only afterwards (§2.5)."""
        body = _body(ChangeSetId, change_set_id=change_set_id)
        data = await self._call(ARCHIVE_CHANGE_SET, user_id, body=body)
        return boundary.parse_answer(ChangeSetSaved, data, ARCHIVE_CHANGE_SET)

    async def submit_change_set(self, user_id: str, change_set_id: str) -> ChangeSetSubmission:
        """Submit every eligible page; the answer lists submitted and skipped pages whole (§2.6)."""
        body = _body(ChangeSetId, change_set_id=change_set_id)
        data = await self._call(SUBMIT_CHANGE_SET, user_id, body=body)
        return boundary.parse_answer(ChangeSetSubmission, data, SUBMIT_CHANGE_SET)

    async def preflight_change_set(self, user_id: str, change_set_id: str) -> ChangeSetPreflight:
        """Which pages could be submitted now, and why the others cannot; writes nothing (§2.8)."""
        body = _body(ChangeSetId, change_set_id=change_set_id)
        data = await self._call(PREFLIGHT_CHANGE_SET, user_id, body=body)
        return boundary.parse_answer(ChangeSetPreflight, data, PREFLIGHT_CHANGE_SET)

    async def submit_page(self, user_id: str, page_id: str) -> PageSubmitResult:
        """Submit one page to its assigned workflow (§2.7); a blocked page is a refusal."""
        body = _body(PageId, page_id=page_id)
        data = await self._call(SUBMIT_PAGE, user_id, body=body)
        answer = single_page_answer(data, page_id)
        # The answer is undocumented: a 2xx that names no outcome means it went through.
        if answer.get("success") is None and not answer.get("reason"):
            answer["success"] = True
        return boundary.parse_answer(PageSubmitResult, answer, SUBMIT_PAGE)

    async def preflight_page(self, user_id: str, page_id: str) -> PagePreflight:
        """Whether one page could be submitted now, and to which workflow (§2.9)."""
        body = _body(PageId, page_id=page_id)
        data = await self._call(PREFLIGHT_PAGE, user_id, body=body)
        answer = single_page_answer(data, page_id)
        return boundary.parse_answer(PagePreflight, answer, PREFLIGHT_PAGE)

    # --- one call, with the vault's token, refresh on 401 and backoff for reads -----------

    async def _call(
        self,
        endpoint: Endpoint,
        user_id: str,
        *,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        credential = await self._credentials.access_token_for(user_id)

        async def send(credential: Credential) -> Answer:
            return await self._send(endpoint, credential, query, body)

        response, _ = await self._send_as(
            user_id,
            credential,
            send,
            name=endpoint.name,
            repeatable=endpoint.repeatable,
            transport_error=lambda exc: boundary.transport_error(exc, endpoint),
            refusal=lambda answer, used: boundary.refusal(
                answer, endpoint, used.scopes, self._clock.now()
            ),
        )
        return boundary.answer_object(response, endpoint)

    async def _send(
        self,
        endpoint: Endpoint,
        credential: Credential,
        query: dict[str, Any] | None,
        body: dict[str, Any] | None,
    ) -> Answer:
        url = self._url(credential.cloud_id, endpoint)
        if endpoint.method is Method.GET:
            return await self._request("GET", url, credential, query=query)
        return await self._request("POST", url, credential, body=body)

    def _url(self, cloud_id: str, endpoint: Endpoint) -> str:
        key = (cloud_id, endpoint.path)
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = self._settings.base_url_for(cloud_id) + endpoint.path
        return url


def _refs(page_ids: Sequence[str]) -> list[dict[str, str]]:
    if isinstance(page_ids, str):  # a lone id would otherwise become one ref per character
        raise TypeError("page_ids must be a list of page ids")
    return [{"pageId": page_id} for page_id in page_ids]


def _body(model: type[B], **fields: Any) -> dict[str, Any]:
    """A request body (or query) from its model, which admits only the documented fields."""
    try:
        built = model.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'value'}: {error['msg']}"
            for error in exc.errors()
        )
        raise IncompleteCall(problems) from None
    return built.wire()
