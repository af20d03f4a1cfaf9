"""Signing: Approve/Reject buttons and `/approvals approve|reject`, the modal, its submission.

Opening: ack, then views.open at once with a "Loading…" modal (the trigger dies 3 s after the
click), then `open_for_signing` with the signer's own token and views.update (with the hash)
to the form, or to what stands in the way with the button that fixes it.

Submitting: inline errors (a wrong code, a short reason) can only ride on the ack, but `sign`
may take seconds when it submits. So `sign` starts at once and the ack waits for it up to
ACK_BUDGET_SECONDS: the checks that fail (pending, reviewer, link, token, code, reason) all come
before the submit and answer in milliseconds, so they arrive in time to be shown inline. A sign
still running then is a submit under way: the ack turns the modal into "Submitting…" and
views.update shows the outcome when it ends. (No hash there: the ack's update gave the view a
new hash we are never told.)

Bolt sends a listener's ack only when its runner next looks, every 10 ms, waking up meanwhile
for nothing. So a Bolt middleware (`SignSubmissions`) takes the submission first and answers
with the ack the moment `sign` ends in an answer that is all ack (signed, refused, an inline
error). When work must follow the ack (a submit still running at the budget, a form to reload),
it hands the request on, with the sign it started, to the listener, which acks and goes on as
any Bolt listener does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncBoltRequest
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse

from handlers.blocks.phrases import utc
from handlers.blocks.refusals import refusal_text
from handlers.blocks.requests import APPROVE_ACTION, REJECT_ACTION
from handlers.blocks.signing import (
    CODE_BLOCK,
    CODE_INPUT,
    COMMENT_BLOCK,
    COMMENT_INPUT,
    CONNECT_ACTION,
    ENROLL_ACTION,
    REASON_BLOCK,
    REASON_INPUT,
    SIGN_MODAL,
    FormMetadata,
    loading_view,
    notice_view,
    problem_view,
    signed_view,
    signing_view,
    submitting_view,
    token_problem_text,
)
from handlers.errors import user_message
from handlers.messages import (
    FORGED_BUTTON,
    REQUEST_BAD_ID,
    REQUEST_NEEDS_ID,
    REQUEST_ONE_ID,
    SIGN_ENROL_NEEDS_LINK,
    SIGN_ENROL_SENT,
    SIGN_FORM_GONE,
    SIGN_NEEDS_TOKEN,
    SIGN_RELOADING,
    SIGN_SUBMIT_FAILED,
    SIGN_SUBMIT_UNKNOWN,
)
from handlers.ports import EnrolmentSender, SlackSurfaces
from handlers.slash import SlashCall, SubcommandRouter
from services.approval_token import ApprovalTokens
from services.approval_token.service import Condition, TokenStatus
from services.errors import (
    ApprovalsError,
    CodeFormatError,
    LinkError,
    ReasonInvalid,
    SnapshotChanged,
    StoreError,
    TokenError,
    TokenLocked,
    UpstreamError,
)
from services.linking import AccountLinking
from services.ports import Leases
from services.requests.model import Decision, Status, normalise_request_id
from services.requests.outcomes import SignOutcome
from services.requests.ports import RequestService

log = logging.getLogger(__name__)

ACK_BUDGET_SECONDS = 2.0  # of Slack's 3 s, leaving room for the network both ways
# A double click on Approve sends two block_actions, each with a trigger of its own. Until the
# first click's modal is open and its form ready, a second click on the same request opens
# nothing (a second views.open would replace the first modal). After that the modal covers the
# buttons, so the next click is a new one. The cap frees the request when the process opening
# it died on the way or could not give it back (a store outage): a double click's second
# comes well within it, and the trigger the first click held lives no longer.
OPENING_CAP_SECONDS = 3.0
# The trigger dies 3 s after the click: the guard may not eat into it. A store that is slow to
# answer (a failover) or down lets the click through, and the form then says what is wrong.
OPENING_GUARD_BUDGET_SECONDS = 0.5
_MAX_VALUE = 64  # request ids are 7 characters; anything longer was not sent by us
_MAX_INPUT = 4000  # Slack caps inputs at 3000; a longer value is forged
_DECISIONS = {APPROVE_ACTION: Decision.APPROVE, REJECT_ACTION: Decision.REJECT}


# --- payloads as our own types ------------------------------------------------------------


def _user_id(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def _team_id(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", ""))


@dataclass(frozen=True)
class DecisionClick:
    """Approve or Reject pressed on a request message, in /approvals pending or on Home."""

    user_id: str
    team_id: str
    trigger_id: str
    decision: Decision
    request_id: str | None  # None: the value is not a request id (forged or broken)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> DecisionClick:
        action: dict[str, Any] = next(
            (a for a in body.get("actions") or [] if a.get("action_id") in _DECISIONS), {}
        )
        value = str(action.get("value", ""))[:_MAX_VALUE]
        return cls(
            user_id=_user_id(body),
            team_id=_team_id(body),
            trigger_id=str(body.get("trigger_id", "")),
            decision=_DECISIONS.get(str(action.get("action_id")), Decision.APPROVE),
            # Only the canonical form we put on the button: anything else was not ours.
            request_id=value if normalise_request_id(value) == value else None,
        )


@dataclass(frozen=True)
class ModalClick:
    """A button pressed inside one of our modals."""

    user_id: str
    team_id: str
    view_id: str
    view_hash: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ModalClick:
        view = body.get("view") or {}
        return cls(
            user_id=_user_id(body),
            team_id=_team_id(body),
            view_id=str(view.get("id", "")),
            view_hash=str(view["hash"]) if view.get("hash") else None,
        )


def _input(values: dict[str, Any], block: str, action: str) -> str | None:
    value = ((values.get(block) or {}).get(action) or {}).get("value")
    return str(value)[:_MAX_INPUT] if value is not None else None


@dataclass(frozen=True)
class SignSubmission:
    """The signing form submitted. The code is never printed."""

    user_id: str
    team_id: str
    view_id: str
    metadata: FormMetadata | None  # None: not a form we made
    blocks: frozenset[str]  # the input blocks the form had (inline errors need one)
    code: str = field(repr=False)
    comment: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> SignSubmission:
        view = body.get("view") or {}
        values = (view.get("state") or {}).get("values") or {}
        metadata = FormMetadata.decode(str(view.get("private_metadata", "")))
        reason = _input(values, REASON_BLOCK, REASON_INPUT)
        comment = _input(values, COMMENT_BLOCK, COMMENT_INPUT)
        return cls(
            user_id=_user_id(body),
            team_id=_team_id(body),
            view_id=str(view.get("id", "")),
            metadata=metadata,
            blocks=frozenset(str(b) for b in values),
            code=_input(values, CODE_BLOCK, CODE_INPUT) or "",
            # A rejection's comment is its reason; an approval's is optional.
            comment=(
                (reason or "")
                if metadata is not None and metadata.decision is Decision.REJECT
                else (comment or "")
            ).strip(),
        )


# --- what a failed sign turns into --------------------------------------------------------


@dataclass(frozen=True)
class Inline:
    """An error shown under one input of the form (only possible on the ack)."""

    block_id: str
    text: str


@dataclass(frozen=True)
class Show:
    """A view that replaces the form."""

    view: dict[str, Any]


class Reload:
    """The pages changed: show the form again with what is there now."""


Answer = Inline | Show | Reload


@dataclass(frozen=True)
class Started:
    """A submission whose `sign` is running (or ran): what the listener needs to finish it."""

    submission: SignSubmission
    meta: FormMetadata
    task: asyncio.Task[SignOutcome]


# Where SignSubmissions leaves the started sign for the listener, in Bolt's request context.
_STARTED = "sign_started"


class SigningHandlers:
    """The listeners' logic; `register` attaches it to Bolt and the router."""

    def __init__(
        self,
        requests: RequestService,
        linking: AccountLinking,
        tokens: ApprovalTokens,
        slack: SlackSurfaces,
        dms: EnrolmentSender,
        leases: Leases,
        *,
        ack_budget_seconds: float = ACK_BUDGET_SECONDS,
    ) -> None:
        self._requests = requests
        self._leases = leases
        self._slack = slack
        self._dms = dms
        self._linking = linking
        self._tokens = tokens
        self._site_url = linking.site_url
        self._ack_budget = ack_budget_seconds
        # Signatures that outlive their ack: held here so the loop never drops them mid-submit.
        self._in_flight: set[asyncio.Task[SignOutcome]] = set()

    # -- opening -----------------------------------------------------------------------------

    async def open_form(
        self,
        *,
        trigger_id: str,
        user_id: str,
        team_id: str,
        request_id: str | None,
        decision: Decision,
        clicked: bool = False,
    ) -> None:
        """views.open first, anything slow after (the trigger_id lives 3 s). A `clicked` button
        opens nothing while the same person's modal for the request is still being opened
        (their double click)."""
        if request_id is None:
            view = problem_view(None, decision, FORGED_BUTTON)
            await self._slack.open_view(trigger_id, view)
            return
        opening = f"sign-opening:{user_id}:{request_id}"
        if clicked and await self._guard(opening, trigger_id) is None:
            log.info("second click ignored", extra={"request": request_id})
            return
        try:
            opened = await self._slack.open_view(trigger_id, loading_view(request_id, decision))
            view = await self.form_or_problem(user_id, team_id, request_id, decision)
        finally:
            if clicked:
                # Given back even when the store did not answer in time: it may have taken it
                # (only this click's own hold is ever given back).
                await self._unguard(opening, trigger_id)
        await self._slack.update_view(opened.view_id, view, opened.view_hash)

    async def _guard(self, opening: str, trigger_id: str) -> bool | None:
        """Take the request's opening for this click: True when taken, None when another
        click holds it, False when the store could not say in time (the click goes on)."""
        try:
            async with asyncio.timeout(OPENING_GUARD_BUDGET_SECONDS):
                taken = await self._leases.acquire(opening, trigger_id, OPENING_CAP_SECONDS)
        except (StoreError, TimeoutError):
            return False
        return True if taken else None

    async def _unguard(self, opening: str, trigger_id: str) -> None:
        # A store too slow to answer now leaves the opening to its cap.
        with contextlib.suppress(StoreError, TimeoutError):
            async with asyncio.timeout(OPENING_GUARD_BUDGET_SECONDS):
                await self._leases.release(opening, trigger_id)

    async def form_or_problem(
        self, user_id: str, team_id: str, request_id: str, decision: Decision
    ) -> dict[str, Any]:
        """The signing form, or what stands in the way. The request's own refusals (closed,
        not a reviewer, your own request) come first: enrolling would not help with those."""
        opening, status = await asyncio.gather(
            self._requests.open_for_signing(request_id, user_id, decision),
            self._tokens.status(user_id),
            return_exceptions=True,
        )
        if isinstance(opening, BaseException):
            return await self._problem(opening, user_id, team_id, request_id, decision)
        if isinstance(status, BaseException):
            return await self._problem(status, user_id, team_id, request_id, decision)
        blocked = self._token_problem(status, request_id, decision)
        if blocked is not None:
            return blocked
        return signing_view(opening, site_url=self._site_url)

    def _token_problem(
        self, status: TokenStatus, request_id: str, decision: Decision
    ) -> dict[str, Any] | None:
        match status.condition:
            case Condition.ACTIVE:
                return None
            case Condition.LOCKED:
                when = status.locked_until
            case Condition.EXPIRED:
                when = status.expires_at
            case Condition.REVOKED:
                when = status.revoked_at
            case _:
                when = None
        text = token_problem_text(SIGN_NEEDS_TOKEN[status.condition.value], when)
        # A lock ends by itself (or an admin lifts it); enrolling again is no way around it.
        enroll = status.condition is not Condition.LOCKED
        return problem_view(request_id, decision, text, enroll=enroll)

    async def _problem(
        self,
        error: BaseException,
        user_id: str,
        team_id: str,
        request_id: str | None,
        decision: Decision,
    ) -> dict[str, Any]:
        if not isinstance(error, ApprovalsError):
            raise error  # a bug: the one error handler logs it
        if isinstance(error, LinkError):
            # The fix is a click away: a connect bound to this person, as /approvals connect.
            start = await self._linking.start(team_id, user_id)
            return problem_view(
                request_id, decision, refusal_text(error), connect_url=start.authorize_url
            )
        enroll = isinstance(error, TokenError) and not isinstance(error, TokenLocked)
        return problem_view(request_id, decision, user_message(error), enroll=enroll)

    # -- submitting --------------------------------------------------------------------------

    async def answer(self, ack: AsyncAck, body: dict[str, Any]) -> Started | None:
        """Starts `sign` and acks with its answer when that is all there is to do, as soon as
        it is known. None when acked; else the sign for `submit` to finish (still running at
        the ack budget, or a form to reload after the ack)."""
        submission = SignSubmission.from_body(body)
        meta = submission.metadata
        if meta is None:
            view = problem_view(None, Decision.APPROVE, SIGN_FORM_GONE)
            await ack(response_action="update", view=view)
            return None
        task = asyncio.create_task(
            self._requests.sign(
                meta.request_id,
                submission.user_id,
                meta.decision,
                submission.code,
                submission.comment,
                meta.digest,
                confirmed_stage=meta.stage,
            )
        )
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        started = Started(submission, meta, task)
        done, _ = await asyncio.wait({task}, timeout=self._ack_budget)
        if not done:
            return started
        answer = await self._answer(task, submission, meta)
        if isinstance(answer, Reload):
            return started
        await self._ack_with(ack, answer)
        return None

    async def submit(self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        """The listener: finishes what `answer` handed on (or does it all when reached first)."""
        started = context.get(_STARTED)
        if not isinstance(started, Started):
            started = await self.answer(ack, body)
            if started is None:
                return
        submission, meta, task = started.submission, started.meta, started.task
        if not task.done():
            # A submit under way: say so now, tell the outcome when it comes.
            await ack(
                response_action="update",
                view=submitting_view(meta.request_id, meta.decision),
            )
            answer = await self._answer(task, submission, meta)
            if isinstance(answer, Inline):
                # Too late to show it under the field: show it instead of the form.
                answer = Show(problem_view(meta.request_id, meta.decision, answer.text))
            if isinstance(answer, Show):
                await self._slack.update_view(submission.view_id, answer.view)
            else:
                await self._reload(submission, meta)
            return
        # Ended since `answer` looked (or in a form to reload).
        answer = await self._answer(task, submission, meta)
        if isinstance(answer, Reload):
            notice = notice_view(meta.request_id, meta.decision, SIGN_RELOADING)
            await ack(response_action="update", view=notice)
            await self._reload(submission, meta)
        else:
            await self._ack_with(ack, answer)

    @staticmethod
    async def _ack_with(ack: AsyncAck, answer: Inline | Show) -> None:
        """An answer that is all ack: the error under its field, or the view instead."""
        if isinstance(answer, Inline):
            await ack(response_action="errors", errors={answer.block_id: answer.text})
        else:
            await ack(response_action="update", view=answer.view)

    async def _answer(
        self, task: Awaitable[SignOutcome], submission: SignSubmission, meta: FormMetadata
    ) -> Answer:
        """What the signer sees after `sign`: the outcome, an inline error, or a reload."""
        try:
            signed = await task
        except SnapshotChanged:
            return Reload()
        except (TokenError, CodeFormatError) as exc:
            return self._inline(submission, meta, CODE_BLOCK, refusal_text(exc))
        except ReasonInvalid as exc:
            return self._inline(submission, meta, REASON_BLOCK, refusal_text(exc))
        except UpstreamError as exc:
            # The service has settled what it could: pending again (nothing was submitted), or
            # still submitting while it finds out. The message says which; so does the modal.
            unknown = exc.outcome_unknown and not await self._pending_again(meta.request_id)
            template = SIGN_SUBMIT_UNKNOWN if unknown else SIGN_SUBMIT_FAILED
            text = template.format(detail=str(exc))
            return Show(problem_view(meta.request_id, meta.decision, text))
        except ApprovalsError as exc:
            view = await self._problem(
                exc, submission.user_id, submission.team_id, meta.request_id, meta.decision
            )
            return Show(view)
        view = signed_view(signed, site_url=self._site_url)
        return Show(view)

    async def _pending_again(self, request_id: str) -> bool:
        try:
            return (await self._requests.get(request_id)).status is Status.PENDING
        except ApprovalsError:
            return False  # cannot tell: say the outcome is unknown

    def _inline(
        self, submission: SignSubmission, meta: FormMetadata, block_id: str, text: str
    ) -> Answer:
        if block_id in submission.blocks:
            return Inline(block_id, text)
        # Slack refuses errors for a block the view does not have (a forged form).
        return Show(problem_view(meta.request_id, meta.decision, text))

    async def _reload(self, submission: SignSubmission, meta: FormMetadata) -> None:
        try:
            form = await self._requests.open_for_signing(
                meta.request_id, submission.user_id, meta.decision
            )
        except ApprovalsError as exc:
            view = await self._problem(
                exc, submission.user_id, submission.team_id, meta.request_id, meta.decision
            )
        else:
            view = signing_view(form, site_url=self._site_url, reconfirm=True)
        await self._slack.update_view(submission.view_id, view)

    # -- the Enroll button in a problem modal ------------------------------------------------

    async def enroll(self, click: ModalClick) -> None:
        """The same enrolment as `/approvals enroll`: a QR code by DM; the modal says so."""
        link = await self._linking.status(click.user_id)
        if link is None or link.broken:
            text = SIGN_ENROL_NEEDS_LINK
        else:
            label = link.email or link.name
            enrolment = await self._tokens.start_enrolment(click.user_id, label)
            if enrolment.replaced_qr is not None:
                await self._dms.delete(enrolment.replaced_qr)
            qr = await self._dms.send(enrolment, label)
            if not await self._tokens.record_qr_message(click.user_id, enrolment.enrolment_id, qr):
                await self._dms.delete(qr)  # replaced meanwhile: nobody would delete it later
            text = SIGN_ENROL_SENT.format(until=utc(enrolment.pending_until))
        view = notice_view(None, Decision.APPROVE, text)
        await self._slack.update_view(click.view_id, view, click.view_hash)


class SignSubmissions(AsyncMiddleware):
    """Takes the signing form's submission before Bolt's listeners: see the module docstring.
    A class, not a function, so that Bolt does not build keyword arguments for it on every
    request."""

    def __init__(self, signing: SigningHandlers) -> None:
        self._signing = signing

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        body = req.body
        if body.get("type") != "view_submission" or not _is_sign_form(body.get("view")):
            return await next()
        ack = req.context.ack
        started = await self._signing.answer(ack, body)
        if started is None:
            return ack.response
        req.context[_STARTED] = started
        return await next()


def _is_sign_form(view: Any) -> bool:
    return isinstance(view, dict) and view.get("callback_id") == SIGN_MODAL


def register(
    app: AsyncApp,
    router: SubcommandRouter,
    requests: RequestService,
    linking: AccountLinking,
    tokens: ApprovalTokens,
    slack: SlackSurfaces,
    dms: EnrolmentSender,
    leases: Leases,
) -> SigningHandlers:
    signing = SigningHandlers(requests, linking, tokens, slack, dms, leases)

    async def by_command(call: SlashCall, decision: Decision) -> None:
        verb = decision.value
        if not call.args:
            await call.ack(text=REQUEST_NEEDS_ID.format(verb=verb), response_type="ephemeral")
            return
        if len(call.args) > 1:
            await call.ack(text=REQUEST_ONE_ID.format(verb=verb), response_type="ephemeral")
            return
        request_id = normalise_request_id(call.args[0][:_MAX_VALUE])
        if request_id is None:
            shown = call.args[0][:40].replace("`", "'")
            await call.ack(text=REQUEST_BAD_ID.format(value=shown), response_type="ephemeral")
            return
        await call.ack()
        await signing.open_form(
            trigger_id=call.input.trigger_id,
            user_id=call.input.user_id,
            team_id=call.input.team_id,
            request_id=request_id,
            decision=decision,
        )

    async def approve(call: SlashCall) -> None:
        await by_command(call, Decision.APPROVE)

    async def reject(call: SlashCall) -> None:
        await by_command(call, Decision.REJECT)

    router.add("approve", approve)
    router.add("reject", reject)

    async def clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = DecisionClick.from_body(body)
        await signing.open_form(
            trigger_id=click.trigger_id,
            user_id=click.user_id,
            team_id=click.team_id,
            request_id=click.request_id,
            decision=click.decision,
            clicked=True,
        )

    app.use(SignSubmissions(signing))
    app.view(SIGN_MODAL)(signing.submit)  # first: see handlers/register.py
    app.action(APPROVE_ACTION)(clicked)
    app.action(REJECT_ACTION)(clicked)

    @app.action(CONNECT_ACTION)
    async def connect_clicked(ack: AsyncAck) -> None:
        # A URL button still sends an interaction; Slack shows a warning unless it is acked.
        await ack()

    @app.action(ENROLL_ACTION)
    async def enroll_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await signing.enroll(ModalClick.from_body(body))

    return signing
