"""Every sentence said about what happened to a request: one function per outcome type.

The services hand over typed outcomes (services/requests/outcomes.py); `words` turns one into
what each place shows: the reply in the request message's thread, the requester's DM, and the
note the request message keeps under its state; `signed_text` says in the signer's modal what a
signature came to. Rewording an outcome is an edit here only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.blocks.phrases import (
    clause,
    group_mention,
    mention,
    names,
    pages_text,
    reasons,
    signers_text,
    stage_label,
    stage_progress,
    upper_first,
    utc,
)
from handlers.blocks.refusals import refusal_text
from handlers.blocks.requests import esc, lines_within, page_link
from handlers.messages import PAGE_BLOCKED_NO_REASON
from services.errors import ApprovalsError, UserError
from services.requests.model import ApprovalRequest, Stage
from services.requests.outcomes import (
    ChannelClosed,
    Escalated,
    Expired,
    Outcome,
    Reassigned,
    Rejected,
    Reminded,
    ReviewChanged,
    Signed,
    SignerDeactivated,
    SignOutcome,
    StageCompleted,
    SubmitFailed,
    SubmitInterrupted,
    Submitted,
    SubmitUnknown,
)


@dataclass(frozen=True)
class Words:
    """What an outcome says, place by place; None where it says nothing."""

    thread: tuple[str, ...] = ()  # replies under the request message, in order
    dm: str | None = None  # a DM to the requester
    kept: str | None = None  # shown on the request message under its state


def words(outcome: Outcome) -> Words:
    """The words of one outcome."""
    return RENDERERS[type(outcome)](outcome)


def kept_note(outcome: Outcome) -> str:
    """The note the request message keeps for an outcome: its own, else its thread reply."""
    told = words(outcome)
    return told.kept or (told.thread[0] if told.thread else "")


def _signed(outcome: Signed) -> Words:
    return Words(thread=(_signature_note(outcome.request, outcome),))


def _stage_completed(outcome: StageCompleted) -> Words:
    request, signature = outcome.request, outcome.signature
    index = request.open_stage
    replies = [_signature_note(request, outcome)]
    if index is not None:
        stage = request.stages[index]
        meaning = stage.meaning or "I approve submitting these pages for review"
        replies.append(
            f"{upper_first(stage_label(request, index))} is open: {signers_text(stage)}, "
            f"please sign {request.id} (“{meaning}”)."
        )
    done = request.stages[signature.stage].name
    after = "" if index is None else f" Next: {stage_label(request, index)}."
    return Words(
        thread=tuple(replies),
        dm=f"Your request {request.id} ({request.title}): stage “{done}” is signed.{after}",
    )


def _signature_note(request: ApprovalRequest, outcome: Signed | StageCompleted) -> str:
    signature = outcome.signature
    return (
        f"{signature.signer.name} signed {stage_label(request, signature.stage)} at "
        f"{utc(signature.signed_at)}: “{signature.meaning}” "
        f"({stage_progress(request, signature.stage)})."
    )


def _rejected(outcome: Rejected) -> Words:
    request, signature = outcome.request, outcome.signature
    who, when = signature.signer.name, utc(signature.signed_at)
    return Words(
        thread=(
            f"{who} rejected this at {when}: “{signature.meaning}”. Reason: "
            f"{signature.comment}\nNothing was submitted; {request.target} ({request.title}) "
            "is left as it is.",
        ),
        dm=f"Your request {request.id} ({request.title}) was rejected by {who} at {when}. "
        f"Reason: {signature.comment}",
    )


def _submitted(outcome: Submitted) -> Words:
    request, attempt = outcome.request, outcome.attempt
    signer, when = attempt.signer.name, utc(attempt.started_at)
    meaning = next(
        (s.meaning for s in request.signatures if s.signer == attempt.signer), "approved"
    )
    went = [o for o in outcome.outcomes if o.submitted]
    skipped = [o for o in outcome.outcomes if not o.submitted]
    kept = (
        None
        if outcome.unconfirmed is None
        else f"ApprovalFlow did not confirm the submit in time ({outcome.unconfirmed}), "
        "but it shows the pages submitted."
    )
    lines = [
        f"{signer} approved this at {when}: “{meaning}”.",
        f"Submitted for review in ApprovalFlow as {signer}: {pages_text(len(went))}{names(went)}.",
    ]
    if skipped:
        lines.append(f"Skipped {pages_text(len(skipped))}: " + reasons(skipped) + ".")
    if kept:
        lines.append(kept)
    return Words(
        thread=("\n".join(lines),),
        dm=f"Your request {request.id} ({request.title}) was approved by {signer} at {when}: "
        f"{pages_text(len(went))} submitted for review"
        + (f", {len(skipped)} skipped." if skipped else "."),
        kept=kept,
    )


def _submit_failed(outcome: SubmitFailed) -> Words:
    attempt = outcome.attempt
    text = (
        f"The submit by {attempt.signer.name} at {utc(attempt.started_at)} failed: "
        f"{_cause(outcome.cause)}. The request is pending again, so it can be signed again "
        "once that is fixed."
    )
    return Words(thread=(text,), kept=text)


def _cause(error: ApprovalsError) -> str:
    """Why a submit failed, as a clause: a refusal in its words, else the failure's detail."""
    return clause(refusal_text(error) if isinstance(error, UserError) else str(error))


def _submit_unknown(outcome: SubmitUnknown) -> Words:
    attempt = outcome.attempt
    return Words(
        kept=f"The submit by {attempt.signer.name} at {utc(attempt.started_at)} got no clear "
        f"answer from ApprovalFlow ({_cause(outcome.cause)}). The bot checks whether it "
        "went through and will update this message."
    )


def _submit_interrupted(outcome: SubmitInterrupted) -> Words:
    attempt = outcome.attempt
    text = (
        f"The submit signed by {attempt.signer.name} at {utc(attempt.started_at)} was "
        "interrupted (the bot restarted), and ApprovalFlow shows nothing submitted. The "
        "request is pending again, so it can be signed again."
    )
    return Words(thread=(text,), kept=text)


def _expired(outcome: Expired) -> Words:
    request = outcome.request
    return Words(
        dm=f"Your request {request.id} ({request.title}) expired at "
        f"{utc(request.expires_at)} without a signature. If it is still needed, post a new "
        f"one: /approvals request {request.target.id}"
    )


def _reminded(outcome: Reminded) -> Words:
    request = outcome.request
    return Words(
        thread=(
            f"Reminder: {request.id} ({request.title}) is still waiting for a signature. "
            f"It expires at {utc(request.expires_at)}.",
        )
    )


def _escalation_people(stage: Stage) -> str:
    named = [mention(u) for u in stage.escalate_to] + [
        group_mention(g) for g in stage.escalate_groups
    ]
    return ", ".join(named)


def _escalated(outcome: Escalated) -> Words:
    request, index = outcome.request, outcome.stage
    stage = request.stages[index]
    since = utc(request.opened_at())
    return Words(
        thread=(
            f"Escalation: {stage_label(request, index)} has waited since {since} for "
            f"{stage_progress(request, index)} signatures by {signers_text(stage)}. "
            f"{_escalation_people(stage)}: please help it get signed, or reassign a signer "
            f"(/approvals reassign {request.id} @from @to).",
        ),
        dm=f"Your request {request.id} ({request.title}) has waited since {since} for its "
        f"“{stage.name}” signatures; it was escalated to {_escalation_people(stage)}.",
    )


def _reassigned(outcome: Reassigned) -> Words:
    why = f" Reason: {outcome.reason}" if outcome.reason else ""
    return Words(
        thread=(
            f"<@{outcome.actor}> reassigned <@{outcome.old}>'s signature on "
            f"{outcome.request.id} to <@{outcome.new}>.{why} <@{outcome.new}>, you sign as "
            "yourself, with your own Approval Token.",
        )
    )


REVIEW_AGAIN = "Post a new request to sign off the new version: {again}."
REVIEW_NOTES = {
    "open": "ApprovalFlow shows nothing under review any more (rollup state: open).",
    "in_review": "In review in ApprovalFlow: each page's workflow reviewers are asked to "
    "approve it.",
    "partially_approved": "Partially approved in ApprovalFlow: some pages are approved, "
    "others are still pending.",
    "all_approved": "Every page is approved in ApprovalFlow. Tracking ends here.",
    "has_rejections": "A page was rejected in ApprovalFlow; its feedback is on the page's "
    "ApprovalFlow byline. Tracking ends here.",
    "stale": "An approved page was edited after its approval, which voids that approval. "
    f"{REVIEW_AGAIN} Tracking ends here.",
    "archived": "The change set was archived in ApprovalFlow. Tracking ends here.",
    "deleted": "The page was deleted in Confluence. Tracking ends here.",
}
REVIEW_OTHER = "ApprovalFlow reports the review state “{state}”."


def _review_changed(outcome: ReviewChanged) -> Words:
    request = outcome.request
    again = f"/approvals request {request.target.id}"
    note = REVIEW_NOTES.get(outcome.state, REVIEW_OTHER).format(again=again, state=outcome.state)
    dm = f"{request.id} ({request.title}): {note}" if outcome.final else None
    return Words(thread=(note,), dm=dm)


def _signer_deactivated(outcome: SignerDeactivated) -> Words:
    follow = (
        "Reviewers can still sign it, or it expires on its own."
        if outcome.requester
        else "Ask the requester to reassign it if that leaves no reviewer."
    )
    return Words(
        thread=(
            f"<@{outcome.user}> was deactivated in Slack, so they can no longer sign this "
            "request (their Approval Token was revoked and their Atlassian link removed). "
            f"{follow}",
        )
    )


CHANNEL_WHY = {
    "archived": "was archived",
    "removed": "I was removed from",
    "deleted": "was deleted",
}


def _channel_closed(outcome: ChannelClosed) -> Words:
    request = outcome.request
    return Words(
        dm=f"Your request {request.id} ({request.title or request.id}) was posted in "
        f"<#{request.channel}>, which {CHANNEL_WHY.get(outcome.why, outcome.why)}. It can "
        "still be signed: reviewers see it in `/approvals pending` and sign it with "
        f"`/approvals approve {request.id}` or `/approvals reject {request.id}`."
    )


# --- the signer's modal ----------------------------------------------------------------------


def signed_text(outcome: SignOutcome, site_url: str) -> str:
    """What the signer's modal says their signature came to (pages linked on `site_url`)."""
    return SIGNED[type(outcome)](outcome, site_url)


def _signed_modal(outcome: Signed | StageCompleted, site_url: str) -> str:
    index = outcome.request.open_stage
    waiting = outcome.request.stages[index].name if index is not None else ""
    return (
        ":black_nib: *Signed.* Nothing is submitted until every stage is signed; waiting for "
        f"*{esc(waiting)}* now."
    )


def _rejected_modal(outcome: Rejected, site_url: str) -> str:
    return (
        ":x: *Rejected and signed.* Nothing was submitted; "
        f"{mention(outcome.request.requester)} has been told."
    )


def _submitted_modal(outcome: Submitted, site_url: str) -> str:
    went = [o for o in outcome.outcomes if o.submitted]
    skipped = [o for o in outcome.outcomes if not o.submitted]
    head = f":white_check_mark: *Signed and submitted* as you. {len(went)} submitted" + (
        f", {len(skipped)} skipped." if skipped else "."
    )
    lines = [f"• {page_link(site_url, o.page_id, o.title)}" for o in went]
    lines += [
        f"• {page_link(site_url, o.page_id, o.title)}: "
        f"{esc((o.reason or PAGE_BLOCKED_NO_REASON)[:200])}"
        for o in skipped
    ]
    return "\n".join([head, *lines_within(lines, 10)]) if lines else head


# One modal text per type a signature comes to (a test holds this to `SignOutcome`).
SIGNED: dict[type[Any], Callable[[Any, str], str]] = {
    Signed: _signed_modal,
    StageCompleted: _signed_modal,
    Rejected: _rejected_modal,
    Submitted: _submitted_modal,
}


# One renderer per outcome type (a test holds this to every member of `Outcome`).
RENDERERS: dict[type[Any], Callable[[Any], Words]] = {
    Signed: _signed,
    StageCompleted: _stage_completed,
    Rejected: _rejected,
    Submitted: _submitted,
    SubmitFailed: _submit_failed,
    SubmitUnknown: _submit_unknown,
    SubmitInterrupted: _submit_interrupted,
    Expired: _expired,
    Reminded: _reminded,
    Escalated: _escalated,
    Reassigned: _reassigned,
    ReviewChanged: _review_changed,
    SignerDeactivated: _signer_deactivated,
    ChannelClosed: _channel_closed,
}
