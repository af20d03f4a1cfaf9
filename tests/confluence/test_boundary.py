"""The Confluence boundary's map is complete: every status and every httpx exception lands in
our error tree, with the retry its table promises."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from services.approvalflow.boundary import Retry, transport_rule
from services.confluence import ConfluenceClient, ConfluenceSettings
from services.confluence.boundary import refusal
from services.confluence.endpoints import PAGES, SPACES
from services.errors import (
    ApprovalsError,
    ConfluenceForbidden,
    ConfluenceNotFound,
    ConfluenceRefused,
    LinkBroken,
    MissingScope,
    RateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.ports import Credential
from tests.approvalflow.test_boundary import httpx_exception_classes, make_exception

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RETRIED = {408, 429, 500, 502, 503, 504}


@pytest.mark.parametrize("status", range(300, 600))
def test_every_error_status_maps_to_our_tree(status: int) -> None:
    answer = refusal(httpx.Response(status, json={"message": "nope"}), PAGES, NOW)
    assert isinstance(answer.error, ApprovalsError)
    expected = Retry.BACKOFF if status in RETRIED else Retry.NO
    if status == 401:
        expected = Retry.REFRESH
    assert answer.retry is expected


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (401, {"message": "Unauthorized"}, {}, LinkBroken),
        (401, {"message": "Unauthorized; scope does not match"}, {}, MissingScope),
        (401, {}, {"x-failure-category": "FAILURE_CLIENT_SCOPE_CHECK"}, MissingScope),
        (
            403,
            {"errors": [{"title": "The token does not grant the required scope"}]},
            {},
            MissingScope,
        ),
        (403, {"errors": [{"title": "Space is archived"}]}, {}, ConfluenceForbidden),
        (404, {}, {}, ConfluenceNotFound),
        (400, {"errors": [{"title": "id: size must be between 0 and 250"}]}, {}, ConfluenceRefused),
        (408, {}, {}, UpstreamTimeout),
        (429, {}, {"Retry-After": "7"}, RateLimited),
        (503, {}, {}, UpstreamUnavailable),
        (302, {}, {"location": "https://elsewhere"}, UpstreamUnavailable),
    ],
)
def test_the_table(
    status: int, body: dict[str, object], headers: dict[str, str], error: type
) -> None:
    answer = refusal(httpx.Response(status, json=body, headers=headers), SPACES, NOW)
    assert type(answer.error) is error
    if status == 429:
        assert answer.retry_after == 7
    if error is MissingScope:
        assert answer.error.scopes == ["read:space:confluence"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", sorted(httpx_exception_classes(), key=str))
async def test_every_httpx_exception_becomes_an_upstream_error(cls: type[Exception]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise make_exception(cls, request)

    sleeps: list[float] = []

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    client = ConfluenceClient(
        ConfluenceSettings(api_url="https://api.example"),
        _Vault(),
        transport=httpx.MockTransport(fail),
        sleep=no_wait,
    )
    rule = transport_rule(cls)
    async with client:
        with pytest.raises(rule.error) as caught:
            await client.pages("U1", ["1"])
    assert isinstance(caught.value.__cause__, cls)
    assert len(sleeps) == (3 if rule.transient else 0)  # a read is tried 4 times in all


class _Vault:
    async def access_token_for(self, user_id: str) -> Credential:
        return Credential("t", "cloud-1", "acc-1", frozenset({"read:page:confluence"}))

    async def after_rejection(self, user_id: str, rejected: Credential) -> Credential:
        return rejected
