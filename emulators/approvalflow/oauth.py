"""The Atlassian 3LO routes: /authorize, /oauth/token, accessible-resources and /me."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.approvalflow.consent import consent_page, error_page
from emulators.approvalflow.contract import (
    AUDIENCE,
    GATEWAY_SCOPE_MISMATCH,
    GATEWAY_UNAUTHORIZED,
    OFFLINE_ACCESS,
    READ_ME,
    iso,
)
from emulators.approvalflow.errors import AdminError, GatewayError, OAuthError
from emulators.approvalflow.models import Family
from emulators.approvalflow.routing import basic_credentials, instrumented, parsed_body
from emulators.approvalflow.state import SandboxState

DEFAULT_PICTURE = (
    "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/default.png"
)
_AUTHORIZE_PARAMS = (
    "audience",
    "client_id",
    "scope",
    "redirect_uri",
    "state",
    "response_type",
    "prompt",
)


def routes(state: SandboxState) -> list[BaseRoute]:
    async def authorize(request: Request) -> Response:
        return await _authorize(state, request)

    async def token(request: Request) -> Response:
        return await _token(state, request)

    async def resources(request: Request) -> Response:
        return _accessible_resources(state, _bearer_family(request))

    async def me(request: Request) -> Response:
        return _me(state, _bearer_family(request))

    return [
        Route(
            "/authorize",
            instrumented(state, "authorize", authorize),
            methods=["GET", "POST"],
            name="authorize",
        ),
        Route("/oauth/token", instrumented(state, "token", token), methods=["POST"]),
        Route(
            "/oauth/token/accessible-resources",
            instrumented(state, "accessible_resources", resources),
            methods=["GET"],
        ),
        Route("/me", instrumented(state, "me", me), methods=["GET"]),
    ]


# --- /authorize --------------------------------------------------------------------------


@dataclass(frozen=True)
class _AuthorizeRequest:
    client_id: str
    redirect_uri: str
    params: dict[str, str]

    @property
    def scopes(self) -> list[str]:
        return self.params.get("scope", "").split()


async def _authorize(state: SandboxState, request: Request) -> Response:
    """GET shows the consent page; the page's form POSTs back here with the decision."""
    data = dict(request.query_params) if request.method == "GET" else await _form(request)
    checked = _check_authorize(state, data)
    if isinstance(checked, str):
        return HTMLResponse(error_page(checked), status_code=400)
    refusal = _refusal(checked)
    if refusal is not None:
        return _redirect(checked, error=refusal[0], error_description=refusal[1])
    if request.method == "GET":
        return HTMLResponse(
            consent_page(
                # Relative to the mount point, so the form works at / and under a prefix.
                action=request.scope.get("root_path", "") + "/authorize",
                client_id=checked.client_id,
                redirect_uri=checked.redirect_uri,
                scopes=checked.scopes,
                hidden=checked.params,
                users=state.world.users.values(),
                sites=state.world.sites,
            )
        )
    decision = data.get("decision")
    if decision == "deny":
        return _redirect(
            checked, error="access_denied", error_description="The user denied access."
        )
    if decision != "allow":
        return HTMLResponse(error_page("Choose Allow or Deny."), status_code=400)
    try:
        code = state.authorize(
            client_id=checked.client_id,
            redirect_uri=checked.redirect_uri,
            who=data.get("account_id", ""),
            scopes=checked.scopes,
        )
    except AdminError:
        return HTMLResponse(error_page("Choose one of the sandbox accounts."), status_code=400)
    return _redirect(checked, code=code)


async def _form(request: Request) -> dict[str, str]:
    body = await parsed_body(request)
    return {k: v for k, v in body.items() if isinstance(v, str)} if isinstance(body, dict) else {}


def _check_authorize(state: SandboxState, data: dict[str, str]) -> _AuthorizeRequest | str:
    """The request, or why no redirect back is safe (then the person sees an error page)."""
    client_id = data.get("client_id", "")
    redirect_uri = data.get("redirect_uri", "")
    if not client_id:
        return "The client_id parameter is missing."
    if not state.known_client(client_id):
        return f"Unknown client_id {client_id}."
    if not redirect_uri:
        return "The redirect_uri parameter is missing."
    if urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
        return "The redirect_uri must be an absolute http(s) URL."
    if not data.get("response_type"):
        return "The response_type parameter is missing."
    params = {name: data[name] for name in _AUTHORIZE_PARAMS if name in data}
    return _AuthorizeRequest(client_id=client_id, redirect_uri=redirect_uri, params=params)


def _refusal(request: _AuthorizeRequest) -> tuple[str, str] | None:
    """An error that goes back to the app on its redirect_uri (RFC 6749 §4.1.2.1)."""
    if request.params.get("response_type") != "code":
        return "unsupported_response_type", "Only response_type=code is supported."
    if request.params.get("audience", AUDIENCE) != AUDIENCE:
        return "invalid_request", f"The audience must be {AUDIENCE}."
    if not request.scopes:
        return "invalid_scope", "At least one scope is required."
    return None


def _redirect(request: _AuthorizeRequest, **params: str) -> RedirectResponse:
    parts = urlsplit(request.redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    if "state" in request.params:
        query.append(("state", request.params["state"]))
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)


# --- /oauth/token ------------------------------------------------------------------------


async def _token(state: SandboxState, request: Request) -> Response:
    body = await parsed_body(request)
    if not isinstance(body, dict):
        raise OAuthError(400, "invalid_request", "Send a JSON or form-encoded body.")
    data = {k: v for k, v in body.items() if isinstance(v, str)}
    client_id, client_secret = data.get("client_id", ""), data.get("client_secret", "")
    basic = basic_credentials(request)
    if not client_id and basic is not None:
        client_id, client_secret = basic
    grant_type = data.get("grant_type")
    if grant_type == "authorization_code":
        if not data.get("code") or not data.get("redirect_uri"):
            raise OAuthError(400, "invalid_request", "code and redirect_uri are required.")
        family, answer = state.exchange_code(
            client_id=client_id,
            client_secret=client_secret,
            code=data["code"],
            redirect_uri=data["redirect_uri"],
        )
    elif grant_type == "refresh_token":
        if not data.get("refresh_token"):
            raise OAuthError(400, "invalid_request", "refresh_token is required.")
        family, answer = state.refresh(
            client_id=client_id, client_secret=client_secret, refresh_token=data["refresh_token"]
        )
    else:
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant_type {grant_type}.")
    request.state.family = family  # so the call is recorded with the account it acted for
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


# --- bearer endpoints --------------------------------------------------------------------


def _bearer_family(request: Request) -> Family:
    family: Family | None = request.state.family
    if family is None:
        raise GatewayError(401, GATEWAY_UNAUTHORIZED)
    return family


def _accessible_resources(state: SandboxState, family: Family) -> Response:
    scopes = [scope for scope in family.scopes if scope != OFFLINE_ACCESS]
    return JSONResponse(
        [
            {
                "id": site.id,
                "url": site.url,
                "name": site.name,
                "scopes": scopes,
                "avatarUrl": site.avatar_url,
            }
            for site in (state.world.sites.get(site_id) for site_id in family.site_ids)
            if site is not None
        ]
    )


def _me(state: SandboxState, family: Family) -> Response:
    if READ_ME not in family.scopes:
        raise GatewayError(401, GATEWAY_SCOPE_MISMATCH)
    user = state.world.users[family.account_id]
    profile: dict[str, Any] = {
        "account_type": "atlassian",
        "account_id": user.account_id,
        "name": user.name,
        "picture": DEFAULT_PICTURE,
        "account_status": "active",
        "nickname": user.nickname,
        "zoneinfo": "Europe/London",
        "locale": "en-GB",
        "extended_profile": {
            "job_title": user.job_title,
            "organization": "Example Corp",
            "department": user.department,
            "location": "London",
        },
        "last_updated": iso(state.now()),
    }
    if user.email_visible:
        profile["email"] = user.email
        profile["email_verified"] = True
    return JSONResponse(profile)
