"""`/approvals connect` and `disconnect`, the link's status section, link DMs, the callback page."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from handlers.blocks.common import Block
from handlers.blocks.linking import (
    CONNECT_ACTION,
    connect_message,
    disconnect_message,
    link_status_blocks,
)
from handlers.messages import (
    LINK_PAGES,
    NO_ARGUMENTS,
)
from handlers.pages import result_page
from handlers.slash import SlashCall, SubcommandRouter
from services.errors import (
    ApprovalsError,
    BadCallback,
    ClientRejected,
    LinkAttemptFailed,
    LinkRefused,
    LinkStateInvalid,
    MissingScope,
)
from services.linking import AccountLinking
from services.linking.models import AuthorizationReply

log = logging.getLogger(__name__)


def register(app: AsyncApp, router: SubcommandRouter, linking: AccountLinking) -> None:
    async def connect(call: SlashCall) -> None:
        if call.args:
            await call.ack(text=NO_ARGUMENTS.format(name="connect"), response_type="ephemeral")
            return
        await call.ack()
        # The state is bound to the Slack user who ran the command, whoever finishes consent.
        start = await linking.start(call.input.team_id, call.input.user_id)
        text, blocks = connect_message(start)
        await call.respond(text=text, blocks=blocks, replace_original=False)

    async def disconnect(call: SlashCall) -> None:
        if call.args:
            # No one, admins included, can disconnect someone else.
            await call.ack(text=NO_ARGUMENTS.format(name="disconnect"), response_type="ephemeral")
            return
        await call.ack()
        text, blocks = disconnect_message(await linking.disconnect(call.input.user_id))
        await call.respond(text=text, blocks=blocks, replace_original=False)

    router.add("connect", connect)
    router.add("disconnect", disconnect)

    # A button with a URL still sends an interaction; Slack shows a warning unless it is acked.
    @app.action(CONNECT_ACTION)
    async def connect_clicked(ack: AsyncAck) -> None:
        await ack()


def link_status_section(linking: AccountLinking) -> Callable[[str, str], Awaitable[list[Block]]]:
    """The link's part of `/approvals status`; a link that lacks permissions (or no longer
    works) gets a Connect Atlassian button, a connect bound to this person like /approvals
    connect, since connecting again is the one way to grant them."""

    async def section(user_id: str, team_id: str) -> list[Block]:
        link = await linking.status(user_id)
        connect = None
        if link is not None and (link.broken or link.missing_scopes):
            connect = (await linking.start(team_id, user_id)).authorize_url
        return link_status_blocks(link, connect)

    return section


# --- GET /atlassian/callback -------------------------------------------------------------

MAX_QUERY = 8192
MAX_FIELDS = 16
_LIMITS = {"state": 256, "code": 4096, "error": 64, "error_description": 1024, "error_uri": 2048}
_STATE = re.compile(r"[A-Za-z0-9_-]{20,128}")  # what AccountLinking.start issues
_CODE = re.compile(r"[A-Za-z0-9._~+/=-]+")
_ERROR = re.compile(r"[A-Za-z0-9_.-]+")
_STATUS = {
    "linked": 200,
    "bad_request": 400,
    "state_invalid": 400,
    "authorize_failed": 400,
    "code_rejected": 400,
    "denied": 403,
    "wrong_site": 403,
    "email_mismatch": 403,
    "missing_scope": 403,
    "account_taken": 409,
    "client_rejected": 502,
    "unavailable": 503,
    "unknown": 404,
    "error": 500,
}


@dataclass(frozen=True)
class WebAnswer:
    """What the web route sends: a page, or a redirect to the clean result URL."""

    status: int
    html: str = field(default="", repr=False)
    location: str | None = None


def parse_reply(params: list[tuple[str, str]]) -> AuthorizationReply:
    """Atlassian's answer as our type; raises BadCallback or LinkStateInvalid."""
    seen: dict[str, str] = {}
    for name, value in params:
        if name not in _LIMITS:
            continue  # Atlassian may add parameters; none of them matter to us
        if name in seen:
            raise BadCallback(f"{name} repeated")
        if len(value) > _LIMITS[name]:
            raise BadCallback(f"{name} longer than {_LIMITS[name]}")
        seen[name] = value
    state, code, error = seen.get("state"), seen.get("code"), seen.get("error")
    if not state:
        raise BadCallback("no state")
    if (code is None) == (error is None):
        raise BadCallback("needs exactly one of code and error")
    if code is not None and not _CODE.fullmatch(code):
        raise BadCallback("code malformed")
    if error is not None and not _ERROR.fullmatch(error):
        raise BadCallback("error malformed")
    if not _STATE.fullmatch(state):
        raise LinkStateInvalid()  # we never issued it (HTML, spaces, the wrong length ...)
    return AuthorizationReply(
        state=state, code=code, error=error, error_description=seen.get("error_description")
    )


def page_reason(error: ApprovalsError) -> str:
    if isinstance(error, LinkAttemptFailed):
        return error.reason
    if isinstance(error, MissingScope):
        return "missing_scope"
    if isinstance(error, LinkRefused):
        return "code_rejected"
    if isinstance(error, ClientRejected):
        return "client_rejected"
    return "unavailable"


class LinkCallback:
    """Atlassian sends the browser here with code and state (or an error). The link is made,
    then the browser is sent on to `?result=<reason>`, so the URL it is left on holds no code
    and the page holds nothing but fixed text."""

    def __init__(self, linking: AccountLinking, redirect_uri: str, sandbox: bool) -> None:
        self._linking = linking
        self._redirect_uri = redirect_uri
        self._sandbox = sandbox

    async def answer(self, query: str) -> WebAnswer:
        if len(query) > MAX_QUERY:
            return self._redirect("bad_request")
        try:
            params = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            return self._redirect("bad_request")
        if not params:
            return self.page("bad_request")
        if [name for name, _ in params] == ["result"]:
            return self.page(params[0][1])
        try:
            await self._linking.complete(parse_reply(params))
        except ApprovalsError as exc:
            reason = page_reason(exc)
            detail = exc.problem if isinstance(exc, BadCallback) else str(exc)
            log.info(
                "link callback refused",
                extra={"reason": reason, "error": type(exc).__name__, "detail": detail[:300]},
            )
            return self._redirect(reason)
        return self._redirect("linked")

    def page(self, reason: str, **values: str) -> WebAnswer:
        if reason not in _STATUS or reason == "error":
            reason = "unknown"
        return self._render(reason, **values)

    def error_page(self) -> WebAnswer:
        """For a failure nobody expected; call it from the `except` block that caught it."""
        ref = secrets.token_hex(4)
        log.exception("link callback failed", extra={"ref": ref})
        return self._render("error", ref=ref)

    def _render(self, reason: str, **values: str) -> WebAnswer:
        title, text = LINK_PAGES[reason]
        text = text.format(site=self._linking.site_url, **values)
        return WebAnswer(_STATUS[reason], result_page(title, text, sandbox=self._sandbox))

    def _redirect(self, reason: str) -> WebAnswer:
        return WebAnswer(303, location=f"{self._redirect_uri}?{urlencode({'result': reason})}")
