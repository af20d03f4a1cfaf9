"""Control routes under /_sandbox/ (JSON): clock, people, page edits and decisions, switches,
faults, recorded calls and token families. Each is one `SandboxState` method over HTTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.approvalflow import reviews
from emulators.approvalflow.contract import ENDPOINT_NAMES
from emulators.approvalflow.errors import AdminError, SandboxError
from emulators.approvalflow.routing import error_response
from emulators.approvalflow.state import SandboxState

Body = dict[str, Any]
Action = Callable[[SandboxState, Request, Body], Any]


def routes(state: SandboxState) -> list[BaseRoute]:
    """The control routes; mount them at /_sandbox."""

    def route(path: str, action: Action, method: str = "POST") -> Route:
        return Route(path, _json_route(state, action), methods=[method])

    return [
        route("/", _overview, "GET"),
        route("/reset", lambda s, r, b: s.reset()),
        route("/clock", _clock),
        route("/users", lambda s, r, b: list(s.world.users.values()), "GET"),
        route("/users", _add_user),
        route(
            "/users/{who}/sites",
            lambda s, r, b: s.set_user_sites(r.path_params["who"], _list_of_str(b, "sites")),
        ),
        route(
            "/users/{who}/revoke",
            lambda s, r, b: {"revoked": s.revoke_grants(r.path_params["who"])},
        ),
        route("/pages", _pages, "GET"),
        route(
            "/pages/{page_id}/edit",
            lambda s, r, b: s.edit_page(
                r.path_params["page_id"], title=_opt(b, "title", str), by=_opt(b, "by", str)
            ),
        ),
        route("/pages/{page_id}/delete", lambda s, r, b: s.delete_page(r.path_params["page_id"])),
        route("/pages/{page_id}/approve", _approve),
        route("/pages/{page_id}/reject", _reject),
        route("/change-sets", _change_sets, "GET"),
        route(
            "/switches",
            lambda s, r, b: s.set_switches(
                app_rest_apis_enabled=_opt(b, "app_rest_apis_enabled", bool),
                licence_active=_opt(b, "licence_active", bool),
            ),
        ),
        route("/faults", lambda s, r, b: s.faults(), "GET"),
        route("/faults", _inject_fault),
        route("/faults", lambda s, r, b: s.clear_faults(), "DELETE"),
        route("/faults/release", lambda s, r, b: {"released": s.release_held()}),
        route(
            "/latency",
            lambda s, r, b: s.set_latency(
                _required(b, "endpoint", str), float(_required(b, "seconds", (int, float)))
            ),
        ),
        route(
            "/token-endpoint",
            lambda s, r, b: s.set_token_endpoint_down(bool(_required(b, "down", bool))),
        ),
        route(
            "/calls",
            lambda s, r, b: s.calls_to(
                r.query_params.get("endpoint"), who=r.query_params.get("who")
            ),
            "GET",
        ),
        route("/calls", lambda s, r, b: s.clear_calls(), "DELETE"),
        route("/families", lambda s, r, b: s.families(r.query_params.get("who")), "GET"),
    ]


def _json_route(state: SandboxState, action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            result = action(state, request, await _body(request))
        except SandboxError as exc:
            return error_response(exc)
        return JSONResponse({"ok": True} if result is None else _jsonable(result))

    return handle


async def _body(request: Request) -> Body:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        raise AdminError(400, "send a JSON object") from None
    if not isinstance(body, dict):
        raise AdminError(400, "send a JSON object")
    return body


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    return value


def _required(body: Body, name: str, kind: type | tuple[type, ...]) -> Any:
    value = _opt(body, name, kind)
    if value is None:
        raise AdminError(400, f"{name} is required")
    return value


def _opt(body: Body, name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    # bool is an int in Python; a number field must not take true/false.
    if value is not None and (
        not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)
    ):
        raise AdminError(400, f"{name} has the wrong type")
    return value


def _list_of_str(body: Body, name: str) -> list[str]:
    value = _required(body, name, list)
    if not all(isinstance(item, str) for item in value):
        raise AdminError(400, f"{name} must be a list of strings")
    return list(value)


def _overview(state: SandboxState, request: Request, body: Body) -> Any:
    return {
        "now": state.now(),
        "switches": state.world.switches,
        "sites": list(state.world.sites.values()),
        "users": list(state.world.users.values()),
        "spaces": list(state.world.spaces.values()),
        "workflows": list(state.world.workflows.values()),
        "endpoints": sorted(ENDPOINT_NAMES),
    }


def _clock(state: SandboxState, request: Request, body: Body) -> Any:
    if "advance_seconds" in body:
        return {"now": state.advance_clock(float(_required(body, "advance_seconds", (int, float))))}
    when = _required(body, "set", str)
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise AdminError(400, "set must be an ISO-8601 time with a timezone") from None
    return {"now": state.set_clock(moment)}


def _add_user(state: SandboxState, request: Request, body: Body) -> Any:
    sites = _list_of_str(body, "sites") if "sites" in body else None
    visible = _opt(body, "email_visible", bool)
    return state.add_user(
        _required(body, "name", str),
        _required(body, "email", str),
        account_id=_opt(body, "account_id", str),
        sites=sites,
        email_visible=True if visible is None else visible,
    )


def _pages(state: SandboxState, request: Request, body: Body) -> Any:
    """Each page with its version and latest review, so a person can see what to approve."""
    world = state.world
    answer = []
    for page in world.pages.values():
        approval = reviews.latest_approval(world, page.id)
        workflow = reviews.assigned_workflow(world, page)
        answer.append(
            {
                **page.model_dump(mode="json"),
                "effective_workflow": workflow.id if workflow else None,
                "approval": approval,
                "current_step_approvers": (
                    world.workflows[approval.workflow_id].steps[approval.step].approvers
                    if approval is not None and approval.status == "pending"
                    else []
                ),
            }
        )
    return answer


def _change_sets(state: SandboxState, request: Request, body: Body) -> Any:
    return [reviews.change_set_detail(state.world, c) for c in state.world.change_sets.values()]


def _approve(state: SandboxState, request: Request, body: Body) -> Any:
    return state.approve_page(
        request.path_params["page_id"],
        _required(body, "reviewer", str),
        comment=_opt(body, "comment", str) or "",
    )


def _reject(state: SandboxState, request: Request, body: Body) -> Any:
    comment = _opt(body, "comment", str)
    reviewer = _required(body, "reviewer", str)
    page_id = request.path_params["page_id"]
    if comment is None:
        return state.reject_page(page_id, reviewer)
    return state.reject_page(page_id, reviewer, comment=comment)


def _inject_fault(state: SandboxState, request: Request, body: Body) -> Any:
    return state.inject_fault(
        _required(body, "endpoint", str),
        status=_opt(body, "status", int) if "status" in body else 500,
        count=_opt(body, "count", int) if "count" in body else 1,
        retry_after=_opt(body, "retry_after", int),
        hang_seconds=float(_opt(body, "hang_seconds", (int, float)) or 0.0),
        body=body.get("body"),
    )
