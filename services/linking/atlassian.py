"""Atlassian 3LO over HTTP, and the one place httpx and Authlib exceptions become our errors.

The token endpoint is called with Authlib (`AsyncOAuth2Client`, client_secret_post), built with
no `scope` (so a refresh sends none, as Atlassian documents) and no `token_endpoint` (so Authlib
never refreshes on its own: refreshing is the vault's, under a lock shared by every process).
accessible-resources and /me are plain httpx GETs. Every call has an explicit timeout.

The map, foreign exception -> ours (`translate`; tests/unit/test_linking_atlassian.py checks that
every exception class httpx and Authlib define lands somewhere):

    Authlib OAuthError  invalid_grant, invalid_request            -> LinkRefused(.error)
                        access_denied, invalid_client,
                        unauthorized_client                       -> ClientRejected
                        anything else                             -> UpstreamUnavailable
    httpx.TimeoutException                                        -> UpstreamTimeout
    httpx.HTTPStatusError  429                                    -> RateLimited(.retry_after)
                           token endpoint 400 / 403               -> LinkRefused
                           token endpoint 401                     -> ClientRejected
                           gateway 401 / 403                      -> LinkRefused("unauthorized")
                           anything else (5xx ...)                -> UpstreamUnavailable
    every other httpx error, any other Authlib error, and a body
    that is not the JSON expected (ValueError)                    -> UpstreamUnavailable
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx

from services.errors import (
    ApprovalsError,
    ClientRejected,
    LinkRefused,
    RateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.linking.models import Profile, Resource, TokenSet
from services.outbound_tls import shared_tls_context

with warnings.catch_warnings():
    # Authlib 1.9 prefers the `httpx2` fork and warns on import when it falls back to httpx,
    # which is what this project pins (atlassian-3lo.md §9, "Packaging"). Its own module sets
    # an "always" filter on import, so ours goes in after it.
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

AUDIENCE = "api.atlassian.com"
# Both answer in well under a second; after 10 s (5 s to connect) they are not answering. The
# vault's refresh lease (60 s) outlasts two token calls at these limits.
TOKEN_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
API_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_TOKEN_LENGTH = 16_384  # Atlassian's JWTs are ~1-2 KB; anything huge is not a token

Endpoint = Literal["token", "api"]
_REFUSED = frozenset({"invalid_grant", "invalid_request"})
_CLIENT_REFUSED = frozenset({"access_denied", "invalid_client", "unauthorized_client"})
_SAFE_CODE = re.compile(r"[^a-z0-9_]")
_names: dict[Endpoint, str] = {"token": "token endpoint", "api": "API"}


@dataclass(frozen=True)
class AtlassianEndpoints:
    """Where the browser is sent (`authorize_url`) and where the bot calls (token, gateway)."""

    authorize_url: str
    token_url: str
    api_url: str


@dataclass(frozen=True)
class ClientCredentials:
    """The 3LO app: exactly the settings the client needs."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str


# --- the exception map ---------------------------------------------------------------------


def _oauth_code(raw: object) -> str:
    """An OAuth error code from the server, safe to put in a message or a log line."""
    return _SAFE_CODE.sub("", str(raw or "").lower())[:40] or "unknown"


def _from_oauth_error(exc: Exception, endpoint: Endpoint) -> ApprovalsError:
    code = _oauth_code(getattr(exc, "error", None))
    if code in _REFUSED:
        return LinkRefused(code)
    if code in _CLIENT_REFUSED:
        # Atlassian documents 401 access_denied for a wrong client secret (atlassian-3lo.md §2).
        return ClientRejected(f"Atlassian refused the bot's client credentials ({code})")
    return UpstreamUnavailable(f"Atlassian's {_names[endpoint]} answered the error {code}")


def _from_status(exc: Exception, endpoint: Endpoint) -> ApprovalsError:
    assert isinstance(exc, httpx.HTTPStatusError)
    status = exc.response.status_code
    if status == 429:
        return RateLimited(
            f"Atlassian's {_names[endpoint]} is rate limiting the bot",
            retry_after=_retry_after(exc.response),
        )
    if endpoint == "token" and status in (400, 403):
        return LinkRefused("invalid_grant" if status == 403 else "invalid_request")
    if endpoint == "token" and status == 401:
        return ClientRejected("Atlassian refused the bot's client credentials (HTTP 401)")
    if endpoint == "api" and status in (401, 403):
        return LinkRefused("unauthorized")
    return UpstreamUnavailable(f"Atlassian's {_names[endpoint]} answered HTTP {status}")


def _timeout(exc: Exception, endpoint: Endpoint) -> ApprovalsError:
    return UpstreamTimeout(f"Atlassian's {_names[endpoint]} did not answer in time")


def _unavailable(exc: Exception, endpoint: Endpoint) -> ApprovalsError:
    return UpstreamUnavailable(
        f"Atlassian's {_names[endpoint]} could not be used ({type(exc).__name__})"
    )


# Most specific first: the first entry whose type matches translates the exception.
EXCEPTION_MAP: tuple[
    tuple[type[Exception], Callable[[Exception, Endpoint], ApprovalsError]], ...
] = (
    (OAuthError, _from_oauth_error),
    (AuthlibBaseError, _unavailable),
    (httpx.TimeoutException, _timeout),
    (httpx.HTTPStatusError, _from_status),
    (httpx.HTTPError, _unavailable),
    (httpx.InvalidURL, _unavailable),
    (httpx.CookieConflict, _unavailable),
    (httpx.StreamError, _unavailable),
    (ValueError, _unavailable),  # a body that is not JSON, or not the JSON we need
)
FOREIGN = tuple(kind for kind, _ in EXCEPTION_MAP)


def translate(exc: Exception, endpoint: Endpoint) -> ApprovalsError:
    """Our error for a foreign exception raised while calling Atlassian."""
    for kind, convert in EXCEPTION_MAP:
        if isinstance(exc, kind):
            return convert(exc, endpoint)
    raise TypeError(f"{type(exc).__name__} is not an exception of the Atlassian boundary")


@contextmanager
def atlassian_errors(endpoint: Endpoint) -> Iterator[None]:
    """The boundary: run Atlassian calls, raising only errors from services.errors."""
    try:
        yield
    except ApprovalsError:
        raise
    except FOREIGN as exc:
        raise translate(exc, endpoint) from exc


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


# --- answers -------------------------------------------------------------------------------


def _text(value: object, limit: int = MAX_TOKEN_LENGTH) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def token_set(answer: Mapping[str, Any]) -> TokenSet:
    """A token endpoint answer as our type; an answer missing what we need is unusable."""
    access = _text(answer.get("access_token"))
    raw_expiry = answer.get("expires_in")
    expires_in = 0
    if isinstance(raw_expiry, int | str) and not isinstance(raw_expiry, bool):
        try:
            expires_in = int(raw_expiry)
        except ValueError:
            pass  # reported below as a missing expires_in
    refresh = answer.get("refresh_token")
    scope = answer.get("scope")
    missing = [
        name
        for name, ok in (
            ("access_token", access is not None),
            ("expires_in", 0 < expires_in <= 7 * 24 * 3600),
            ("refresh_token", refresh is None or _text(refresh) is not None),
            ("scope", scope is None or isinstance(scope, str)),
        )
        if not ok
    ]
    if missing or access is None:
        raise UpstreamUnavailable(
            f"Atlassian's token answer lacks a usable {', '.join(missing)}", outcome_unknown=True
        )
    return TokenSet(
        access_token=access,
        refresh_token=str(refresh) if refresh is not None else "",
        expires_in=expires_in,
        scopes=frozenset(scope.split()) if isinstance(scope, str) else None,
    )


def _resources(answer: Any) -> list[Resource]:
    if not isinstance(answer, list):
        raise UpstreamUnavailable("Atlassian's accessible-resources answer is not a list")
    found = []
    for item in answer:
        if not isinstance(item, dict):
            continue
        site_id, url = _text(item.get("id"), 200), _text(item.get("url"), 2000)
        if site_id is None or url is None:
            continue
        scopes = item.get("scopes")
        found.append(
            Resource(
                id=site_id,
                url=url,
                name=str(item.get("name") or url)[:200],
                scopes=frozenset(s for s in scopes if isinstance(s, str))
                if isinstance(scopes, list)
                else frozenset(),
            )
        )
    return found


def _profile(answer: Any) -> Profile:
    account_id = _text(answer.get("account_id"), 200) if isinstance(answer, dict) else None
    if account_id is None:
        raise UpstreamUnavailable("Atlassian's /me answer has no account_id")
    name = _text(answer.get("name"), 500) or _text(answer.get("nickname"), 500) or account_id
    return Profile(account_id=account_id, name=name, email=_text(answer.get("email"), 500))


# --- the client ----------------------------------------------------------------------------


class AtlassianOAuth:
    """The 3LO calls the link and the vault make. No state; safe to share."""

    def __init__(
        self,
        endpoints: AtlassianEndpoints,
        credentials: ClientCredentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` lets tests put the sandbox app in process (httpx.ASGITransport)."""
        self._endpoints = endpoints
        self._credentials = credentials
        self._transport = transport

    def authorize_url(self, state: str, scopes: tuple[str, ...]) -> str:
        query = urlencode(
            {
                "audience": AUDIENCE,
                "client_id": self._credentials.client_id,
                "scope": " ".join(scopes),
                "redirect_uri": self._credentials.redirect_uri,
                "state": state,
                "response_type": "code",
                "prompt": "consent",
            },
            safe="",
            quote_via=quote,
        )
        return f"{self._endpoints.authorize_url}?{query}"

    async def exchange_code(self, code: str) -> TokenSet:
        async with self._oauth_client() as client:
            with atlassian_errors("token"):
                answer = await client.fetch_token(
                    self._endpoints.token_url, grant_type="authorization_code", code=code
                )
                return token_set(answer)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """A new pair. When Atlassian leaves the new refresh token out, Authlib keeps the one
        sent (atlassian-3lo.md §3, "reported oddities")."""
        async with self._oauth_client() as client:
            with atlassian_errors("token"):
                answer = await client.refresh_token(
                    self._endpoints.token_url, refresh_token=refresh_token
                )
                tokens = token_set(answer)
        if not tokens.refresh_token:
            raise UpstreamUnavailable("Atlassian's refresh answer has no refresh token")
        return tokens

    async def accessible_resources(self, access_token: str) -> list[Resource]:
        return _resources(await self._get("/oauth/token/accessible-resources", access_token))

    async def me(self, access_token: str) -> Profile:
        return _profile(await self._get("/me", access_token))

    def _oauth_client(self) -> Any:
        # One client per call: Authlib keeps the last token on the client object, and these
        # calls are rare (a link, or one refresh an hour per user).
        return AsyncOAuth2Client(
            client_id=self._credentials.client_id,
            client_secret=self._credentials.client_secret,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
            redirect_uri=self._credentials.redirect_uri,
            timeout=TOKEN_TIMEOUT,
            transport=self._transport,
            verify=shared_tls_context(),
            follow_redirects=False,
        )

    async def _get(self, path: str, access_token: str) -> Any:
        async with httpx.AsyncClient(
            timeout=API_TIMEOUT,
            transport=self._transport,
            verify=shared_tls_context(),
            follow_redirects=False,
        ) as client:
            with atlassian_errors("api"):
                response = await client.get(
                    self._endpoints.api_url + path,
                    headers={
                        "Authorization": f"Bearer {access_token}",
                        "Accept": "application/json",
                    },
                )
                response.raise_for_status()
                return response.json()

    def __repr__(self) -> str:
        return f"AtlassianOAuth({self._endpoints!r}, client_id={self._credentials.client_id!r})"
