"""The web side of linking: GET /atlassian/callback, and the sandbox mounted at /sandbox."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.wiring import SANDBOX_MOUNT, Container
from emulators.approvalflow import create_sandbox_app
from handlers.linking import LinkCallback
from handlers.pages import SECURITY_HEADERS


def link_routes(container: Container) -> list[BaseRoute]:
    callback = LinkCallback(
        container.linking,
        redirect_uri=container.settings.redirect_uri,
        sandbox=container.sandbox is not None,
    )

    async def atlassian_callback(request: Request) -> Response:
        try:
            answer = await callback.answer(request.url.query)
        except Exception:  # the page must say something clear, never a stack trace
            answer = callback.error_page()  # logs the exception with the page's reference
        if answer.location is not None:
            return RedirectResponse(
                answer.location, status_code=answer.status, headers=SECURITY_HEADERS
            )
        return HTMLResponse(answer.html, status_code=answer.status, headers=SECURITY_HEADERS)

    routes: list[BaseRoute] = [Route("/atlassian/callback", atlassian_callback, methods=["GET"])]
    if container.sandbox is not None:
        routes.append(Mount(SANDBOX_MOUNT, app=create_sandbox_app(container.sandbox)))
    return routes
