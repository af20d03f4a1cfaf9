"""The error boundary: every httpx exception and every status maps into our tree, retries obey."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from services.approvalflow import ApprovalFlowClient, ApprovalFlowSettings, Backoff
from services.approvalflow.boundary import TRANSPORT_RULES, parse_retry_after, transport_rule
from services.errors import (
    AppApisDisabled,
    ApprovalFlowForbidden,
    ApprovalFlowNotFound,
    ApprovalsError,
    ConfigError,
    GatewayNotFound,
    LicenceInactive,
    LinkBroken,
    MissingScope,
    RateLimited,
    RequestRejected,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.ports import Credential
from tests.fakes.clock import FakeClock
from tests.refused import said

SCOPES = frozenset(
    {
        "read:forge-app:confluence",
        "read:change-set:custom",
        "write:change-set:custom",
        "read:approval:custom",
        "write:approval:custom",
    }
)
SETTINGS = ApprovalFlowSettings(api_url="http://127.0.0.1:9", app_id="app", env_id="env")


class StaticVault:
    """Credentials that hand out tok-1, and tok-2 after a rejection."""

    def __init__(self, scopes: frozenset[str] = SCOPES) -> None:
        self.scopes = scopes
        self.rejections = 0

    async def access_token_for(self, user_id: str) -> Credential:
        return Credential("tok-1", "cloud-1", "acct-1", self.scopes)

    async def after_rejection(self, user_id: str, rejected: Credential) -> Credential:
        self.rejections += 1
        return Credential("tok-2", "cloud-1", "acct-1", self.scopes)


Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(
    handler: Handler, *, vault: StaticVault | None = None, sleeps: list[float] | None = None
) -> ApprovalFlowClient:
    async def no_wait(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return ApprovalFlowClient(
        SETTINGS,
        vault or StaticVault(),
        clock=FakeClock(),
        sleep=no_wait,
        jitter=lambda: 0.5,
        transport=httpx.MockTransport(handler),
    )


def httpx_exception_classes() -> set[type[Exception]]:
    """Every exception class httpx exports or defines."""
    found: set[type[Exception]] = set()
    for module in (httpx, httpx._exceptions):
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, Exception):
                if value.__module__.startswith("httpx"):
                    found.add(value)
    return found


def make_exception(cls: type[Exception], request: httpx.Request) -> Exception:
    if cls is httpx.HTTPStatusError:
        return cls("boom", request=request, response=httpx.Response(500, request=request))
    for args, kwargs in ((("boom",), {"request": request}), (("boom",), {}), ((), {})):
        try:
            return cls(*args, **kwargs)
        except TypeError:
            continue
    raise AssertionError(f"cannot build {cls}")


# --- the transport map -------------------------------------------------------------------------


def test_every_httpx_exception_is_in_the_map() -> None:
    classes = httpx_exception_classes()
    assert len(classes) >= 28  # httpx 0.28 has 28; a new one must be mapped explicitly
    assert classes <= set(TRANSPORT_RULES), classes - set(TRANSPORT_RULES)
    for cls in classes:
        assert issubclass(transport_rule(cls).error, UpstreamError)


@pytest.mark.parametrize("cls", sorted(httpx_exception_classes(), key=lambda c: str(c)))
async def test_the_client_maps_every_httpx_exception(cls: type[Exception]) -> None:
    sent: list[str] = []

    def explode(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        raise make_exception(cls, request)

    rule = transport_rule(cls)
    sleeps: list[float] = []
    client = mock_client(explode, sleeps=sleeps)
    with pytest.raises(rule.error) as read:
        await client.change_set_detail("U1", "cs-1")
    assert isinstance(read.value.__cause__, cls)
    assert not read.value.outcome_unknown
    assert len(sent) == (4 if rule.transient else 1)

    sent.clear()
    with pytest.raises(rule.error) as write:
        await client.submit_change_set("U1", "cs-1")
    assert len(sent) == 1  # a submit is never repeated
    assert write.value.outcome_unknown is rule.delivered
    await client.aclose()


# --- statuses and bodies --------------------------------------------------------------------------


def _always(answer: httpx.Response) -> Handler:
    return lambda request: answer


def app_error(status: int, text: str) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "error": text})


def gateway(status: int, text: str = "Forbidden") -> httpx.Response:
    return httpx.Response(status, json={"code": status, "message": text})


@pytest.mark.parametrize(
    ("answer", "expected", "text"),
    [
        (app_error(400, "spaceId is required"), RequestRejected, "spaceId is required"),
        (
            app_error(400, "Change set not found: cs-1"),
            ApprovalFlowNotFound,
            "Change set not found",
        ),
        (app_error(403, "License not active"), LicenceInactive, "licence is not active"),
        (app_error(403, "Insufficient OAuth scope"), MissingScope, "read:change-set:custom"),
        (gateway(403), AppApisDisabled, "App REST APIs"),
        (httpx.Response(403), AppApisDisabled, "App REST APIs"),
        (app_error(403, "Not a space admin"), ApprovalFlowForbidden, "Not a space admin"),
        (app_error(404, "Gone"), ApprovalFlowNotFound, "Gone"),
        (gateway(404, "Not Found"), GatewayNotFound, "APPROVALFLOW_ENV_ID"),
        (app_error(409, "Page already has a pending approval"), RequestRejected, "pending"),
        (app_error(422, "title too long"), RequestRejected, "title too long"),
        (httpx.Response(418), UpstreamUnavailable, "HTTP 418"),
        (httpx.Response(501, text="nope"), UpstreamUnavailable, "HTTP 501"),
        (
            httpx.Response(302, headers={"location": "https://id.atlassian.com/login"}),
            UpstreamUnavailable,
            "id.atlassian.com",
        ),
        (httpx.Response(200, json={"success": False, "error": "Nope"}), RequestRejected, "Nope"),
        (httpx.Response(200, text="<html>"), UpstreamUnavailable, "not a JSON object"),
        (httpx.Response(200, json=[1, 2]), UpstreamUnavailable, "not a JSON object"),
        (httpx.Response(200), UpstreamUnavailable, "expected shape"),  # detail needs an id
    ],
)
async def test_statuses_map_into_the_tree(
    answer: httpx.Response, expected: type[ApprovalsError], text: str
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return answer

    client = mock_client(handler)
    with pytest.raises(expected) as raised:
        await client.change_set_detail("U1", "cs-1")
    assert type(raised.value) is expected
    assert text in said(raised.value)
    assert len(calls) == 1  # none of these is worth repeating
    await client.aclose()


async def test_401_scope_mismatch_is_missing_scope_without_a_refresh() -> None:
    vault = StaticVault(scopes=frozenset({"read:forge-app:confluence"}))
    for answer in (
        gateway(401, "Unauthorized; scope does not match"),
        httpx.Response(401, headers={"x-failure-category": "FAILURE_CLIENT_SCOPE_CHECK"}),
    ):
        client = mock_client(_always(answer), vault=vault)
        with pytest.raises(MissingScope) as missing:
            await client.submit_page("U1", "1")
        assert missing.value.scopes == ["write:approval:custom"]  # what the grant lacks
        await client.aclose()
    assert vault.rejections == 0


async def test_401_refreshes_once_with_the_new_token() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return gateway(401, "Unauthorized")

    vault = StaticVault()
    client = mock_client(handler, vault=vault)
    with pytest.raises(LinkBroken):
        await client.preflight_page("U1", "1")
    assert seen == ["Bearer tok-1", "Bearer tok-2"] and vault.rejections == 1
    await client.aclose()


# --- 429 and Retry-After ------------------------------------------------------------------------


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=12), usegmt=True), now) == 12
    assert parse_retry_after(format_datetime(now - timedelta(seconds=12), usegmt=True), now) == 0
    assert parse_retry_after("-3", now) == 0
    for garbage in (None, "", "soon", "nan", "Mon, 99 Foo"):
        assert parse_retry_after(garbage, now) is None


def test_backoff_doubles_to_30_with_jitter() -> None:
    backoff = Backoff(max_tries=7)
    assert [backoff.delay(n, None, lambda: 0.5) for n in range(1, 8)] == [
        5.0,
        10.0,
        20.0,
        30.0,
        30.0,
        30.0,
        None,
    ]
    assert backoff.delay(1, None, lambda: 0.0) == pytest.approx(3.5)
    assert backoff.delay(1, None, lambda: 1.0) == pytest.approx(6.5)
    assert Backoff().delay(4, None, lambda: 0.5) is None  # 4 tries in all
    assert Backoff().delay(1, 12.0, lambda: 0.5) == 12.0
    assert Backoff().delay(1, 600.0, lambda: 0.5) is None  # too long to hold a person


async def test_a_long_retry_after_is_handed_back_not_waited() -> None:
    sleeps: list[float] = []
    client = mock_client(
        lambda request: httpx.Response(429, headers={"retry-after": "600"}), sleeps=sleeps
    )
    with pytest.raises(RateLimited) as limited:
        await client.list_change_sets("U1", "1")
    assert limited.value.retry_after == 600 and sleeps == []
    await client.aclose()


async def test_408_and_5xx_on_reads_are_retried() -> None:
    answers = [httpx.Response(408), httpx.Response(502), httpx.Response(504)]
    ok = httpx.Response(200, json={"success": True, "changeSets": []})
    sleeps: list[float] = []
    client = mock_client(lambda request: answers.pop(0) if answers else ok, sleeps=sleeps)
    assert await client.list_change_sets("U1", "1") == ()
    assert sleeps == [5.0, 10.0, 20.0]
    answers[:] = [httpx.Response(408)] * 4
    with pytest.raises(UpstreamTimeout):
        await client.list_change_sets("U1", "1")
    await client.aclose()


# --- base URLs and requests ---------------------------------------------------------------------


def test_base_url_patterns() -> None:
    assert SETTINGS.base_url_for("abc-123") == (
        "http://127.0.0.1:9/svc/confluence/abc-123/apps/app_env"
    )
    site = ApprovalFlowSettings(
        base_url="https://acme.atlassian.net/gateway/api/svc/confluence/apps/app_env/"
    )
    assert site.base_url_for("ignored") == (
        "https://acme.atlassian.net/gateway/api/svc/confluence/apps/app_env"
    )
    assert "%2F" in SETTINGS.base_url_for("../x")  # a cloud id cannot walk the path
    with pytest.raises(ConfigError):
        ApprovalFlowSettings(app_id="app")


async def test_requests_are_the_documented_ones() -> None:
    seen: list[tuple[str, str, dict[str, str], Any, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append(
            (
                request.method,
                request.url.path,
                dict(request.url.params),
                body,
                request.headers["authorization"],
            )
        )
        return httpx.Response(200, json={"success": True, "results": [], "id": "cs-9"})

    client = mock_client(handler)
    await client.list_change_sets("U1", "98301")
    await client.change_set_detail("U1", "cs-1")
    await client.create_change_set("U1", space_id="98301", title="T", page_ids=["1", "2"])
    await client.update_change_set("U1", "cs-1", summary="")
    await client.archive_change_set("U1", "cs-1")
    await client.submit_change_set("U1", "cs-1")
    await client.preflight_change_set("U1", "cs-1")
    await client.submit_page("U1", "5")
    with pytest.raises(UpstreamUnavailable):  # {"results": []} says nothing about the page
        await client.preflight_page("U1", "5")
    base = "/svc/confluence/cloud-1/apps/app_env"
    assert [(m, p.removeprefix(base), q, b) for m, p, q, b, _ in seen] == [
        ("GET", "/changeSets", {"spaceId": "98301"}, None),
        ("GET", "/changeSets/detail", {"changeSetId": "cs-1"}, None),
        (
            "POST",
            "/changeSets",
            {},
            {"spaceId": "98301", "title": "T", "pageRefs": [{"pageId": "1"}, {"pageId": "2"}]},
        ),
        ("POST", "/changeSets/update", {}, {"changeSetId": "cs-1", "summary": ""}),
        ("POST", "/changeSets/archive", {}, {"changeSetId": "cs-1"}),
        ("POST", "/changeSets/submit", {}, {"changeSetId": "cs-1"}),
        ("POST", "/changeSets/preflight", {}, {"changeSetId": "cs-1"}),
        ("POST", "/pages/submit", {}, {"pageId": "5"}),
        ("POST", "/pages/preflight", {}, {"pageId": "5"}),
    ]
    assert {auth for *_, auth in seen} == {"Bearer tok-1"}
    await client.aclose()
