"""A page where a person acts in Confluence: approve or reject a page in review, edit a page.

ApprovalFlow has no API for a reviewer's decision (they decide in Confluence's UI), so the
sandbox offers this page instead; an edit makes a new version, so "pages changed, sign again"
can be seen happening. Plain HTML forms, every value escaped.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from emulators.approvalflow import reviews
from emulators.approvalflow.errors import AdminError
from emulators.approvalflow.models import ChangeSet, Page
from emulators.approvalflow.state import SandboxState

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#172b4d}h1{font-size:1.4rem}h2{font-size:1.1rem;margin:1.5rem 0 .3rem}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #dfe1e6;"
    "padding:.4rem;text-align:left;vertical-align:top}button{padding:.25rem .7rem;"
    "border-radius:4px;border:1px solid #c1c7d0;cursor:pointer;margin:.1rem}"
    ".approve{background:#00875a;color:#fff;border-color:#00875a}.reject{background:#de350b;"
    "color:#fff;border-color:#de350b}.state{font-weight:600}.flash{padding:.6rem 1rem;"
    "border-radius:4px;background:#deebff}.flash.bad{background:#ffebe6}.who{margin:1rem 0}"
    "input[type=text]{width:12rem}.muted{color:#5e6c84;font-size:.85rem}form{display:inline}"
)
REJECT_FEEDBACK = "Please revise before approval."
_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"


def routes(state: SandboxState) -> list[BaseRoute]:
    """GET /confluence shows the open change sets; POST /confluence/{page}/{act} acts."""

    async def show(request: Request) -> Response:
        who = request.query_params.get("as") or _first_user(state)
        return HTMLResponse(
            _render(state, request, who, request.query_params.get("msg", "")),
            headers={"Content-Security-Policy": _CSP},
        )

    async def act(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        who = form.get("as", "")
        page_id, action = request.path_params["page"], request.path_params["act"]
        try:
            message = _do(state, page_id, action, who, form.get("comment", "").strip())
        except AdminError as exc:
            message = f"!{exc.message}"
        back = f"{request.url.path.rsplit('/', 2)[0]}?as={quote(who)}&msg={quote(message)}"
        return RedirectResponse(back, status_code=303)

    return [
        Route("/confluence", show, methods=["GET"]),
        Route("/confluence/{page}/{act}", act, methods=["POST"]),
    ]


def _do(state: SandboxState, page_id: str, action: str, who: str, comment: str) -> str:
    if action == "approve":
        state.approve_page(page_id, who, comment=comment)
        return f"Approved page {page_id}."
    if action == "reject":
        state.reject_page(page_id, who, comment=comment or REJECT_FEEDBACK)
        return f"Rejected page {page_id}."
    if action == "edit":
        page = state.edit_page(page_id, by=who or None)
        return f"Edited page {page_id}: now version {page.version}."
    raise AdminError(404, f"no such action: {action}")


def _first_user(state: SandboxState) -> str:
    return next(iter(state.world.users), "")


def _render(state: SandboxState, request: Request, who: str, message: str) -> str:
    world = state.world
    here = request.url.path
    people = "".join(
        f'<option value="{escape(u.account_id)}"{" selected" if u.account_id == who else ""}>'
        f"{escape(u.name)} ({escape(u.email)})</option>"
        for u in world.users.values()
    )
    flash = ""
    if message:
        bad = message.startswith("!")
        flash = (
            f'<p class="flash{" bad" if bad else ""}" id="flash">{escape(message.lstrip("!"))}</p>'
        )
    sets = [cs for cs in world.change_sets.values() if cs.status == "open"]
    body = "".join(_change_set(state, cs, here, who) for cs in sets)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Confluence (sandbox)</title><style>{_STYLE}</style></head><body>"
        "<h1>Confluence (ApprovalFlow sandbox)</h1>"
        '<p class="muted">Act as a person in Confluence: reviewers approve or reject pages in '
        "review; anyone may edit a page, which makes a new version.</p>"
        f'<form class="who" method="get" action="{escape(here)}"><label>You are '
        f'<select name="as" id="who">{people}</select></label> '
        '<button type="submit">Switch</button></form>'
        f"{flash}{body}</body></html>"
    )


def _change_set(state: SandboxState, change_set: ChangeSet, here: str, who: str) -> str:
    world = state.world
    rows = "".join(
        _page_row(state, change_set, world.pages[page_id], here, who)
        for page_id in change_set.page_ids
        if page_id in world.pages
    )
    rollup = reviews.rollup_state(world, change_set)
    return (
        f'<h2 id="cs-{escape(change_set.id)}">{escape(change_set.title)} '
        f'<span class="muted">{escape(change_set.id)} · <span class="state rollup">'
        f"{escape(rollup)}</span></span></h2>"
        "<table><tr><th>Page</th><th>Version</th><th>Review</th><th>Waiting for</th>"
        f"<th></th></tr>{rows}</table>"
    )


def _page_row(state: SandboxState, change_set: ChangeSet, page: Page, here: str, who: str) -> str:
    world = state.world
    page_state = reviews.page_state(world, change_set, page.id)
    approval = reviews.latest_in_set(world, page.id, change_set.id)
    waiting = ""
    if approval is not None and approval.status == "pending":
        workflow = world.workflows.get(approval.workflow_id)
        if workflow is not None and approval.step < len(workflow.steps):
            names = [
                world.users[a].name if a in world.users else a
                for a in workflow.steps[approval.step].approvers
            ]
            waiting = ", ".join(names)
    action = f"{escape(here)}/{escape(page.id)}"
    hidden = f'<input type="hidden" name="as" value="{escape(who)}">'
    buttons = (
        f'<form method="post" action="{action}/approve">{hidden}'
        f'<button class="approve" id="approve-{escape(page.id)}">Approve</button></form>'
        f'<form method="post" action="{action}/reject">{hidden}'
        f'<input type="text" name="comment" placeholder="{REJECT_FEEDBACK}">'
        f'<button class="reject" id="reject-{escape(page.id)}">Reject</button></form>'
        if page_state == "pending"
        else ""
    )
    edit = (
        f'<form method="post" action="{action}/edit">{hidden}'
        f'<button id="edit-{escape(page.id)}">Edit page</button></form>'
    )
    return (
        f'<tr id="page-{escape(page.id)}"><td>{escape(page.title)} '
        f'<span class="muted">{escape(page.id)}</span></td>'
        f'<td class="version">{page.version}</td><td class="state">{escape(page_state)}</td>'
        f"<td>{escape(waiting)}</td><td>{buttons}{edit}</td></tr>"
    )
