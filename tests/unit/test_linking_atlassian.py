"""The Atlassian client: the exception map is complete, answers are checked, calls time out."""

from __future__ import annotations

import inspect
import warnings
from types import ModuleType
from typing import Any

import httpx
import pytest

from services.errors import (
    ApprovalsError,
    ClientRejected,
    LinkRefused,
    RateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.linking.atlassian import (
    API_TIMEOUT,
    TOKEN_TIMEOUT,
    AtlassianOAuth,
    atlassian_errors,
    token_set,
    translate,
)
from tests.unit.linking_kit import CLIENT, ENDPOINTS

with warnings.catch_warnings():
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import authlib.common.errors
    import authlib.integrations.base_client.errors
    import authlib.integrations.httpx_client
    import authlib.oauth2.base
    import authlib.oauth2.rfc6749.errors
    from authlib.integrations.httpx_client import OAuthError

REQUEST = httpx.Request("POST", "https://auth.example/oauth/token")


def exception_classes(*modules: ModuleType) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for module in modules:
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException):
                found.add(value)
    return found


def instance(kind: type[BaseException]) -> Exception:
    """Some instance of an httpx or Authlib exception class."""
    if issubclass(kind, httpx.HTTPStatusError):
        return kind("x", request=REQUEST, response=httpx.Response(500, request=REQUEST))
    if issubclass(kind, httpx.RequestError):
        return kind("x", request=REQUEST)
    try:
        made = kind()
    except TypeError:
        made = kind("x")
    assert isinstance(made, Exception)
    return made


FOREIGN = {
    kind
    for kind in exception_classes(
        httpx,
        authlib.common.errors,
        authlib.integrations.base_client.errors,
        authlib.integrations.httpx_client,
        authlib.oauth2.base,
        authlib.oauth2.rfc6749.errors,
    )
    if kind.__module__.startswith(("httpx", "authlib"))
}


def test_the_map_covers_every_httpx_and_authlib_exception() -> None:
    assert len(FOREIGN) > 40, "the modules were read"
    for kind in sorted(FOREIGN, key=lambda k: k.__qualname__):
        for endpoint in ("token", "api"):
            mapped = translate(instance(kind), endpoint)  # raises TypeError when unmapped
            assert isinstance(mapped, ApprovalsError), kind


@pytest.mark.parametrize(
    ("error", "endpoint", "expected"),
    [
        (OAuthError("invalid_grant", "Unknown or invalid refresh token."), "token", LinkRefused),
        (OAuthError("invalid_request", "authorization_code is invalid"), "token", LinkRefused),
        (OAuthError("access_denied", "Unauthorized"), "token", ClientRejected),
        (OAuthError("temporarily_unavailable"), "token", UpstreamUnavailable),
        (httpx.ReadTimeout("x", request=REQUEST), "token", UpstreamTimeout),
        (httpx.ConnectError("x", request=REQUEST), "api", UpstreamUnavailable),
        (ValueError("Token endpoint response is not a JSON object"), "token", UpstreamUnavailable),
    ],
)
def test_translations(error: Exception, endpoint: Any, expected: type[ApprovalsError]) -> None:
    assert type(translate(error, endpoint)) is expected


@pytest.mark.parametrize(
    ("status", "endpoint", "expected"),
    [
        (429, "token", RateLimited),
        (400, "token", LinkRefused),
        (401, "token", ClientRejected),
        (403, "token", LinkRefused),
        (503, "token", UpstreamUnavailable),
        (401, "api", LinkRefused),
        (403, "api", LinkRefused),
        (404, "api", UpstreamUnavailable),
        (500, "api", UpstreamUnavailable),
    ],
)
def test_statuses(status: int, endpoint: Any, expected: type[ApprovalsError]) -> None:
    response = httpx.Response(status, headers={"Retry-After": "7"}, request=REQUEST)
    mapped = translate(httpx.HTTPStatusError("x", request=REQUEST, response=response), endpoint)
    assert type(mapped) is expected
    if isinstance(mapped, RateLimited):
        assert mapped.retry_after == 7


def test_unrelated_exceptions_are_not_swallowed() -> None:
    with pytest.raises(KeyError), atlassian_errors("token"):
        raise KeyError("a bug of ours")
    with pytest.raises(TypeError):
        translate(KeyError("x"), "token")


def test_server_error_codes_are_sanitised_in_messages() -> None:
    mapped = translate(OAuthError("<script>alert(1)</script>"), "token")
    assert "<" not in str(mapped) and "script" in str(mapped)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"refresh_token": "r", "expires_in": 3600}, "access_token"),
        ({"access_token": "a", "refresh_token": "r"}, "expires_in"),
        ({"access_token": "a", "expires_in": "soon"}, "expires_in"),
        ({"access_token": "a", "expires_in": True}, "expires_in"),
        ({"access_token": "a", "expires_in": -5}, "expires_in"),
        ({"access_token": "", "expires_in": 3600}, "access_token"),
        ({"access_token": "a" * 20000, "expires_in": 3600}, "access_token"),
        ({"access_token": "a", "expires_in": 3600, "refresh_token": 7}, "refresh_token"),
        ({"access_token": "a", "expires_in": 3600, "scope": ["read:me"]}, "scope"),
    ],
)
def test_unusable_token_answers(answer: dict[str, Any], problem: str) -> None:
    with pytest.raises(UpstreamUnavailable, match=problem):
        token_set(answer)


def test_a_usable_token_answer() -> None:
    tokens = token_set(
        {
            "access_token": "AT-1",
            "refresh_token": "RT-1",
            "expires_in": "3600",
            "scope": "read:me x",
        }
    )
    assert (tokens.expires_in, tokens.scopes) == (3600, frozenset({"read:me", "x"}))
    assert token_set({"access_token": "a", "expires_in": 60}).scopes is None
    assert "AT-1" not in repr(tokens) and "RT-1" not in repr(tokens)


async def test_every_call_carries_explicit_timeouts() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth/token":
            return httpx.Response(
                200, json={"access_token": "a", "refresh_token": "r", "expires_in": 3600}
            )
        if request.url.path == "/me":
            return httpx.Response(200, json={"account_id": "acc", "name": "N"})
        return httpx.Response(200, json=[{"id": "c", "url": "https://s", "scopes": ["read:me"]}])

    client = AtlassianOAuth(ENDPOINTS, CLIENT, transport=httpx.MockTransport(answer))
    await client.exchange_code("the-code")
    await client.refresh("the-refresh")
    [site] = await client.accessible_resources("a")
    profile = await client.me("a")
    assert site.id == "c" and profile.account_id == "acc" and profile.email is None
    for request, expected in zip(
        seen, (TOKEN_TIMEOUT, TOKEN_TIMEOUT, API_TIMEOUT, API_TIMEOUT), strict=True
    ):
        assert request.extensions["timeout"] == expected.as_dict()
    assert expected.read == 10.0 and expected.connect == 5.0
    exchange = seen[0].content.decode()
    assert "client_id=kit-client" in exchange and "client_secret=kit-client-secret" in exchange
    assert "grant_type=authorization_code" in exchange and "code=the-code" in exchange
    assert "authorization" not in seen[0].headers
    assert seen[2].headers["authorization"] == "Bearer a"


async def test_a_refresh_answer_without_a_new_refresh_token_keeps_the_sent_one() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "new", "expires_in": 3600})

    client = AtlassianOAuth(ENDPOINTS, CLIENT, transport=httpx.MockTransport(answer))
    tokens = await client.refresh("kept")
    assert (tokens.access_token, tokens.refresh_token) == ("new", "kept")


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(403, json={"error": "invalid_grant"}), LinkRefused),
        (httpx.Response(401, json={"error": "access_denied"}), ClientRejected),
        (httpx.Response(503, text="down"), UpstreamUnavailable),
        (httpx.Response(429, text="<html>slow down</html>"), RateLimited),
        (httpx.Response(200, text="<html>a gateway page</html>"), UpstreamUnavailable),
        (httpx.Response(200, json=["not", "an", "object"]), UpstreamUnavailable),
    ],
)
async def test_token_endpoint_answers_map_into_our_tree(
    response: httpx.Response, expected: type[ApprovalsError]
) -> None:
    client = AtlassianOAuth(ENDPOINTS, CLIENT, transport=httpx.MockTransport(lambda r: response))
    with pytest.raises(expected):
        await client.refresh("r")


async def test_gateway_answers_map_into_our_tree() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/me":
            return httpx.Response(200, json={"name": "no account id"})
        return httpx.Response(200, json={"not": "a list"})

    client = AtlassianOAuth(ENDPOINTS, CLIENT, transport=httpx.MockTransport(answer))
    with pytest.raises(UpstreamUnavailable):
        await client.accessible_resources("a")
    with pytest.raises(UpstreamUnavailable):
        await client.me("a")
