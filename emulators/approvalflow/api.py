"""ApprovalFlow's 9 REST endpoints behind the emulated Forge app REST API gateway.

Checks run in the order a real call meets them: the app/env ids in the URL, the bearer, the
site (cloud id) the grant covers, the site's App REST APIs toggle, the scopes (§1.2), then the
app's licence (§3.1); only then the endpoint itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.approvalflow import reviews
from emulators.approvalflow.contract import (
    API_ENDPOINTS,
    GATEWAY_APIS_DISABLED,
    GATEWAY_UNAUTHORIZED,
    LICENCE_INACTIVE,
    PRODUCT_SCOPE,
    ApiEndpoint,
    insufficient_scope,
)
from emulators.approvalflow.errors import ApiError, GatewayError
from emulators.approvalflow.models import Family
from emulators.approvalflow.routing import Handler, instrumented, parsed_body
from emulators.approvalflow.state import SandboxState

BASE_PATH = "/svc/confluence/{cloud_id}/apps/{app_env}"


@dataclass(frozen=True)
class ApiCall:
    """An authorised call: who makes it, on which site, with which parameters."""

    family: Family
    cloud_id: str
    data: dict[str, Any]

    def required(self, name: str) -> str:
        return reviews.required(self.data, name)


Answer = Callable[[SandboxState, ApiCall], dict[str, Any]]


def routes(state: SandboxState) -> list[BaseRoute]:
    return [
        Route(
            BASE_PATH + endpoint.path,
            instrumented(state, endpoint.name, _gated(state, endpoint, _ANSWERS[endpoint.name])),
            methods=[endpoint.method],
            name=endpoint.name,
        )
        for endpoint in API_ENDPOINTS
    ]


def _gated(state: SandboxState, endpoint: ApiEndpoint, answer: Answer) -> Handler:
    async def handle(request: Request) -> Response:
        app_id, _, env_id = request.path_params["app_env"].partition("_")
        if (state.app_id and app_id != state.app_id) or (state.env_id and env_id != state.env_id):
            raise GatewayError(404, "Not Found")
        family: Family | None = request.state.family
        cloud_id: str = request.path_params["cloud_id"]
        if family is None or cloud_id not in family.site_ids:
            raise GatewayError(401, GATEWAY_UNAUTHORIZED)
        if not state.world.switches.app_rest_apis_enabled:
            raise GatewayError(403, GATEWAY_APIS_DISABLED)
        for scope in (PRODUCT_SCOPE, endpoint.scope):
            if scope not in family.scopes:
                raise ApiError(403, insufficient_scope(scope))
        if not state.world.switches.licence_active:
            raise ApiError(403, LICENCE_INACTIVE)
        data = await _parameters(request)
        return JSONResponse(answer(state, ApiCall(family=family, cloud_id=cloud_id, data=data)))

    return handle


async def _parameters(request: Request) -> dict[str, Any]:
    """POST bodies are JSON objects; GETs use the query, and list also takes a body (§2.1)."""
    body = await parsed_body(request)
    if request.method == "GET":
        return {**(body if isinstance(body, dict) else {}), **request.query_params}
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


def _list(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.list_change_sets(call.required("spaceId"), cloud_id=call.cloud_id)


def _detail(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.change_set_detail(call.required("changeSetId"), cloud_id=call.cloud_id)


def _create(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.create_change_set(
        call.data, account_id=call.family.account_id, cloud_id=call.cloud_id
    )


def _update(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.update_change_set(call.required("changeSetId"), call.data, cloud_id=call.cloud_id)


def _archive(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.archive_change_set(call.required("changeSetId"), cloud_id=call.cloud_id)


def _submit_change_set(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.submit_change_set(
        call.required("changeSetId"),
        account_id=call.family.account_id,
        client_id=call.family.client_id,
        cloud_id=call.cloud_id,
    )


def _preflight_change_set(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.preflight_change_set(call.required("changeSetId"), cloud_id=call.cloud_id)


def _submit_page(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.submit_page(
        call.required("pageId"),
        account_id=call.family.account_id,
        client_id=call.family.client_id,
        cloud_id=call.cloud_id,
    )


def _preflight_page(state: SandboxState, call: ApiCall) -> dict[str, Any]:
    return state.preflight_page(call.required("pageId"), cloud_id=call.cloud_id)


_ANSWERS: dict[str, Answer] = {
    "list_change_sets": _list,
    "change_set_detail": _detail,
    "create_change_set": _create,
    "update_change_set": _update,
    "archive_change_set": _archive,
    "submit_change_set": _submit_change_set,
    "preflight_change_set": _preflight_change_set,
    "submit_page": _submit_page,
    "preflight_page": _preflight_page,
}
