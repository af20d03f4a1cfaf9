"""What the requests feature says: times, counts, and the errors a signer or requester sees."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.approvalflow.endpoints import PRODUCT_SCOPE
from services.approvalflow.targets import Target, TargetSnapshot
from services.errors import (
    AlreadySigned,
    MissingScope,
    NotFound,
    NothingToSubmit,
    RequestClosed,
    RequestError,
)
from services.requests.model import ApprovalRequest, Decision, PageOutcome, Signature, Status

SHOWN_PAGES = 10  # pages listed by name in a message; the rest are counted


def utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def pages_text(n: int) -> str:
    return "1 page" if n == 1 else f"{n} pages"


def sentence(exc: Exception) -> str:
    return str(exc).strip().rstrip(".")


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
