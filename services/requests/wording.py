"""What a refused step says (the errors a signer or requester sees), and the phrases shared with
handlers/blocks/outcomes.py, which says what happened to a request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.approvalflow.endpoints import PRODUCT_SCOPE
from services.approvalflow.targets import Target, TargetSnapshot
from services.errors import (
    AlreadySigned,
    InputError,
    MissingScope,
    NotAllowed,
    NotEligible,
    NotFound,
    NothingToSubmit,
    NotPending,
    ReasonInvalid,
    RequestClosed,
    RequestError,
    SignedBefore,
    SnapshotChanged,
    StageNotOpen,
    TransitionRefused,
)
from services.requests.model import (
    ApprovalRequest,
    Decision,
    PageOutcome,
    Signature,
    Stage,
    Status,
)

SHOWN_PAGES = 10  # pages listed by name in a message; the rest are counted


def utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def pages_text(n: int) -> str:
    return "1 page" if n == 1 else f"{n} pages"


def sentence(cause: object) -> str:
    """An error's text as a clause: no full stop of its own."""
    return str(cause).strip().rstrip(".")


def already_signed(request: ApprovalRequest, signature: Signature) -> AlreadySigned:
    verb = "approved" if signature.decision is Decision.APPROVE else "rejected"
    return AlreadySigned(
        f"You already {verb} {request.id} at {utc(signature.signed_at)}. A person signs a "
        "request once."
    )


def closed(request: ApprovalRequest, now: datetime) -> RequestError:
    last = request.signatures[-1] if request.signatures else None
    who = last.signer.name if last is not None else "someone"
    when = utc(last.signed_at) if last is not None else ""
    match request.status:
        case Status.SUBMITTING:
            return AlreadySigned(
                f"{who} approved {request.id} a moment ago and it is being submitted now, so "
                "there is nothing left to sign."
            )
        case Status.SUBMITTED | Status.CLOSED:
            return RequestClosed(
                f"{request.id} was already approved by {who} at {when} and submitted for "
                "review, so there is nothing left to sign."
            )
        case Status.REJECTED:
            return RequestClosed(
                f"{request.id} was rejected by {who} at {when}, so there is nothing left to "
                "sign. The requester can post a new request."
            )
        case _ if request.status is Status.EXPIRED or request.expires_at <= now:
            return RequestClosed(
                f"{request.id} expired at {utc(request.expires_at)} without a signature. Ask "
                "the requester to post a new request if it is still needed."
            )
        case _:
            return RequestClosed(f"{request.id} can no longer be signed.")


def _describe(target: Target, title: str | None) -> str:
    return f"{target} ({title})" if title else str(target)


def _blocked_lines(snapshot: TargetSnapshot) -> str:
    blocked = snapshot.blocked
    lines = [f"• {p.name}: {p.reason or 'cannot be submitted'}" for p in blocked]
    shown = lines[:SHOWN_PAGES]
    if len(lines) > SHOWN_PAGES:
        shown.append(f"• +{len(lines) - SHOWN_PAGES} more")
    return "\n".join(shown)


def nothing_to_submit(snapshot: TargetSnapshot) -> NothingToSubmit:
    what = _describe(snapshot.target, snapshot.title)
    if snapshot.archived:
        return NothingToSubmit(
            f"{what} is archived, so nothing in it can be submitted and no request was posted."
        )
    return NothingToSubmit(
        f"Nothing in {what} can be submitted for review now, so no request was posted:\n"
        + _blocked_lines(snapshot)
    )


def nothing_left(request: ApprovalRequest, snapshot: TargetSnapshot) -> NothingToSubmit:
    if snapshot.archived:
        return NothingToSubmit(
            f"{_describe(request.target, snapshot.title)} was archived since {request.id} was "
            "posted, so nothing can be submitted. Reject the request, or let it expire."
        )
    return NothingToSubmit(
        f"Nothing in {request.id} can be submitted now (it changed since it was posted):\n"
        + _blocked_lines(snapshot)
        + "\nReject the request, or ask the requester for a new one once this is fixed."
    )


NAMED_PAGES = 5  # pages named in a one-line note; more are counted


def names(outcomes: Sequence[PageOutcome]) -> str:
    """` (Title one, Title two, +3 more)`, or nothing when no page has a title."""
    titled = [o.title for o in outcomes if o.title]
    if not titled:
        return ""
    shown = titled[:NAMED_PAGES]
    more = len(outcomes) - len(shown)
    return " (" + ", ".join(shown) + (f", +{more} more" if more > 0 else "") + ")"


def reasons(outcomes: Sequence[PageOutcome]) -> str:
    parts = [
        f"{o.title or f'page {o.page_id}'}: {o.reason or 'skipped'}"
        for o in outcomes
        if not o.submitted
    ]
    return "; ".join(parts[:SHOWN_PAGES]) + (
        f"; +{len(parts) - SHOWN_PAGES} more" if len(parts) > SHOWN_PAGES else ""
    )


def no_such_request(request_id: str) -> NotFound:
    return NotFound(
        f"There is no request {request_id}. Check the id on the request message, or run "
        "/approvals pending to see what you can sign."
    )


def missing_scope(missing: frozenset[str]) -> MissingScope:
    """The scopes a link lacks, the product scope first (it is the one to fix in the app)."""
    return MissingScope(sorted(missing, key=lambda s: (s != PRODUCT_SCOPE, s)))


# --- stages ---------------------------------------------------------------------------------


def mention(user: str) -> str:
    return f"<@{user}>"


def group_mention(group: str) -> str:
    return f"<!subteam^{group}>"


def signers_list(stage: Stage, leaving_out: frozenset[str] = frozenset()) -> str:
    """The people and groups a stage names ("<@U1>, <!subteam^S1>"), but `leaving_out`."""
    if stage.anyone:
        return "anyone but the requester"
    named = [mention(u) for u in stage.signers if u not in leaving_out]
    return ", ".join(named + [group_mention(g) for g in stage.groups])


def signers_text(stage: Stage) -> str:
    """Who signs a stage: "<@U1>", "2 of <!subteam^S1>", "anyone but the requester"."""
    listed = signers_list(stage)
    if stage.anyone:
        return listed
    if stage.required is None:
        return f"all of {listed}"
    if stage.quorum == 1 and len(stage.signers) + len(stage.groups) == 1:
        return listed
    return f"{stage.quorum} of {listed}"


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def stage_label(request: ApprovalRequest, index: int) -> str:
    stages = request.stages
    if len(stages) == 1:
        return "the signature"
    return f"stage {index + 1} of {len(stages)}, “{stages[index].name}”"


def not_a_signer(request: ApprovalRequest) -> NotAllowed:
    if len(request.stages) == 1:
        return NotAllowed(
            f"Only the reviewers named on {request.id} can sign it, and you are not one of "
            "them. Ask the requester to post a new request naming you if you should sign."
        )
    return NotAllowed(
        f"You are not a signer of any stage of {request.id} still to sign. Ask the requester "
        "to reassign a signer to you if you should sign: /approvals reassign."
    )


def stage_not_open(request: ApprovalRequest, wanted: int) -> RequestError:
    open_stage = request.open_stage
    if open_stage is None:
        return closed(request, request.created_at)
    stage = request.stages[open_stage]
    if wanted < open_stage:
        now_open = upper_first(stage_label(request, open_stage))
        return AlreadySigned(
            f"The stage you signed for, {stage_label(request, wanted)}, got its signatures "
            f"meanwhile, so yours was not recorded. {now_open} is open now; "
            f"{signers_text(stage)} signs it."
        )
    return RequestError(
        f"{request.id} is not at your stage yet: {stage_label(request, open_stage)} is open, "
        f"and {signers_text(stage)} signs it. You sign {stage_label(request, wanted)}; you "
        "will be mentioned when it opens."
    )


def stage_moved(request: ApprovalRequest, stage: int) -> RequestError:
    return RequestError(
        f"{request.id} moved on while your form was open: you now sign "
        f"{stage_label(request, stage)}, which means “{request.stages[stage].meaning}”. Open "
        "the form again to read what you sign; nothing was recorded."
    )


def refusal(
    request: ApprovalRequest, user: str, refused: TransitionRefused, now: datetime
) -> RequestError | NotAllowed:
    """What to tell a signer whose step the request refused (often: someone was quicker)."""
    if isinstance(refused, SignedBefore):
        signed = request.signature_of(user)
        if signed is not None:
            return already_signed(request, signed)
    if isinstance(refused, NotPending) or request.status is not Status.PENDING:
        return closed(request, now)
    if isinstance(refused, StageNotOpen):
        return stage_not_open(request, refused.wanted_stage)
    if isinstance(refused, NotEligible):
        return not_a_signer(request)
    return RequestClosed(f"{request.id} can no longer be signed as asked.")


def reassign_refused(
    request: ApprovalRequest, old: str, new: str, refused: TransitionRefused
) -> RequestError:
    if isinstance(refused, NotPending):
        return RequestClosed(f"{request.id} is {request.status.value}: nobody is left to sign it.")
    if isinstance(refused, SignedBefore):
        who = old if request.signature_of(old) is not None else new
        return RequestError(f"<@{who}> has signed {request.id} already, so cannot be reassigned.")
    if isinstance(refused, NotEligible) and new == request.requester:
        return RequestError(f"<@{new}> asked for {request.id}, so cannot sign it.")
    return RequestError(
        f"<@{old}> is not named as a signer of a stage of {request.id} still to sign. "
        "Reassign names one person who was named in the policy or the command."
    )


def stage_progress(request: ApprovalRequest, index: int) -> str:
    stage = request.stages[index]
    return f"{len(request.approvals_in(index))} of {stage.quorum}"


# --- the form, the command and its arguments ------------------------------------------------


def not_a_request_id(text: str) -> InputError:
    shown = text.strip()[:20] or "(nothing)"
    return InputError(f"“{shown}” is not a request id. Request ids look like AR-7K3Q.")


def request_gone(request_id: str) -> NotFound:
    return NotFound(f"There is no request {request_id} any more.")


def not_a_decision() -> InputError:
    return InputError("A decision is approve or reject.")


def form_not_ours() -> InputError:
    return InputError(
        "This form is not one the bot opened. Open it again from the request message."
    )


def reason_invalid(shortest: int, longest: int, length: int) -> ReasonInvalid:
    return ReasonInvalid(
        f"A rejection needs a reason of {shortest}-{longest} characters "
        f"(yours has {length}), so the requester knows what to change."
    )


def comment_too_long(longest: int, length: int) -> InputError:
    return InputError(f"A comment is at most {longest} characters (yours has {length}).")


def signing_elsewhere(request: ApprovalRequest) -> AlreadySigned:
    return AlreadySigned(
        f"You are already signing {request.id} in another window. Finish there, or try "
        "again in a minute."
    )


def own_request(request: ApprovalRequest) -> NotAllowed:
    return NotAllowed(
        f"You asked for {request.id}, so someone else must sign it: a requester cannot "
        "sign their own request."
    )


def snapshot_changed(request: ApprovalRequest, snapshot: TargetSnapshot) -> SnapshotChanged:
    return SnapshotChanged(
        f"What you confirmed is not what {request.id} would sign now: its pages "
        "changed since the form was opened. Check the pages as they are now and "
        "sign again.",
        snapshot,
    )


def page_hidden(page_id: str) -> NotAllowed:
    return NotAllowed(
        f"Confluence does not show you page {page_id} (a page "
        "restriction keeps you out, or it was deleted), so you cannot sign what it "
        "says. Ask a space admin for access, or ask the requester to name someone "
        "who can read it."
    )


def none_submitted(outcomes: Sequence[PageOutcome]) -> NothingToSubmit:
    return NothingToSubmit(f"ApprovalFlow submitted none of the pages ({reasons(outcomes)})")


# --- posting and reassigning ------------------------------------------------------------------


def self_as_reviewer() -> InputError:
    return InputError(
        "You cannot name yourself as a reviewer: someone else must sign your request. "
        "Name other reviewers, or none so that anyone else in the channel may sign."
    )


def reviewers_and_policy() -> InputError:
    return InputError(
        "Name reviewers or a policy, not both: named reviewers make a one-signature "
        "policy of their own."
    )


def unknown_policy(name: str, known: Sequence[str]) -> InputError:
    listed = ", ".join(known) or "none: no SIGNING_POLICIES file is set"
    return InputError(
        f"There is no signing policy “{name[:40]}”. Policies: {listed}. "
        "/approvals policies lists them."
    )


def reassign_not_allowed(request: ApprovalRequest) -> NotAllowed:
    return NotAllowed(
        f"Only the requester of {request.id} (<@{request.requester}>) or an admin can "
        "reassign its signers."
    )


def reassign_same_person() -> InputError:
    return InputError("Name two different people: the signer to replace, then the new one.")


def reason_too_long(longest: int) -> InputError:
    return InputError(f"A reason is at most {longest} characters.")


# --- watched spaces ---------------------------------------------------------------------------


def not_watched(space: str) -> NotFound:
    return NotFound(f"Space {space} is not watched. Nothing was changed.")


def not_a_space(text: str) -> InputError:
    return InputError(
        f"“{text[:40]}” is not a space key or id. Give the space key (like DOCS, from "
        "the space's address …/wiki/spaces/DOCS/…) or its numeric id."
    )


def space_ids_only() -> InputError:
    return InputError("Give the space's numeric id: this bot cannot look up space keys.")


def no_such_space(key: str) -> NotFound:
    return NotFound(
        f"There is no Confluence space with the key {key} that you can see. Check the "
        "key (it is in the space's address: …/wiki/spaces/KEY/…), or give the space id."
    )


def deactivated_in_slack(user: str) -> NotFound:
    """A look-up of someone Slack answers as deactivated (services/workspace.py)."""
    return NotFound(f"<@{user}> was deactivated in Slack, so they can no longer act here.")
