"""Every sentence said about a refusal: one function per refusal type of services/errors.py.

The services raise typed refusals that carry facts; `refusal_text` turns one into what a person
reads, wherever it is shown (a modal's error, an ephemeral reply, a DM, the App Home). Rewording
a refusal is an edit here only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from handlers.blocks.phrases import (
    blocked_lines,
    described,
    mention,
    reasons,
    signers_text,
    stage_label,
    upper_first,
    utc,
)
from services.errors import (
    AccountTaken,
    AdminReasonTooLong,
    AlreadySigned,
    AppApisDisabled,
    ApprovalFlowForbidden,
    ApprovalFlowNotFound,
    ApprovalFlowRefused,
    AuthorizeFailed,
    BadCallback,
    BeingSubmitted,
    BlogPostLink,
    Closed,
    CodeFormatError,
    CodeReused,
    CommentTooLong,
    ConfluenceForbidden,
    ConfluenceNotFound,
    ConfluenceRefused,
    ConsentDenied,
    Deactivated,
    EmailMismatch,
    EvidenceNotAllowed,
    ExtendDaysInvalid,
    FormNotOurs,
    GatewayNotFound,
    IncompleteCall,
    InputError,
    LicenceInactive,
    LinkAttemptFailed,
    LinkBroken,
    LinkError,
    LinkRefused,
    LinkStateInvalid,
    MissingScope,
    NobodyLeftToSign,
    NoLongerSignable,
    NoneSubmitted,
    NoPendingEnrolment,
    NoSuchRequest,
    NoSuchSpace,
    NotADecision,
    NotAllowed,
    NotAnAdmin,
    NotANamedSigner,
    NotAPageLink,
    NotARequestId,
    NoTarget,
    NotASigner,
    NotASpace,
    NotATarget,
    NotFound,
    NothingLeft,
    NothingSubmittable,
    NothingToSubmit,
    NotLinked,
    NoToken,
    NotWatched,
    NotYourStageYet,
    OtherSite,
    OwnRequest,
    PageHidden,
    ReasonInvalid,
    ReasonTooLong,
    ReassignNotAllowed,
    ReassignRefused,
    ReassignSamePerson,
    RequestClosed,
    RequesterCannotSign,
    RequestError,
    RequestGone,
    RequestRejected,
    ReviewersAndPolicy,
    SelfAsReviewer,
    SignedAlready,
    SignerSignedAlready,
    SigningElsewhere,
    SiteNotGranted,
    SnapshotChanged,
    SpaceIdsOnly,
    StageFilled,
    StageMoved,
    TokenChanged,
    TokenError,
    TokenExpired,
    TokenLocked,
    TokenNotEnrolled,
    TokenPending,
    TokenRevoked,
    UnknownPolicy,
    UserError,
    WrongCode,
    ZeroPageId,
)
from services.requests.model import Decision, Status

# Kinds, never raised by the services themselves; handlers/ and bot/ raise the first three
# with a sentence of handlers/messages.py, which is then what the person reads.
CATEGORIES: frozenset[type[UserError]] = frozenset(
    {
        UserError,
        InputError,
        NotAllowed,
        NotFound,
        TokenError,
        LinkError,
        LinkAttemptFailed,
        ApprovalFlowRefused,
        RequestError,
        NothingToSubmit,
        RequestClosed,
        AlreadySigned,
        ReassignRefused,
    }
)


def refusal_text(error: UserError) -> str:
    """What a person reads about a refusal."""
    render = REFUSALS.get(type(error))
    if render is not None:
        return render(error)
    return str(error)  # a category raised in handlers/ or bot/ with its sentence


# --- the Approval Token ----------------------------------------------------------------------

WHAT_A_CODE_IS = (
    "A code is the 6 digits your authenticator app shows for ApprovalFlow (spaces are fine). "
    "Type the code currently shown."
)
NO_ENROLMENT = "There is no enrolment waiting for a code. Run /approvals enroll to start one."
NO_ENROLMENT_BECAUSE = {
    "expired": "Your enrolment expired: it must be confirmed within 10 minutes. "
    "Run /approvals enroll to start again.",
    "replaced": "This enrolment was replaced by a newer one. Use the code for the newest QR "
    "code I sent you, or run /approvals enroll again.",
}


def _no_pending_enrolment(error: NoPendingEnrolment) -> str:
    if error.why == "already_active":
        until = f" until {utc(error.active_until)}" if error.active_until else ""
        return f"Your Approval Token is already active{until}; there is nothing to confirm."
    return NO_ENROLMENT_BECAUSE.get(error.why, NO_ENROLMENT)


def _token_not_enrolled(error: TokenNotEnrolled) -> str:
    if error.lapsed:
        return (
            "Your enrolment expired before it was confirmed. Run /approvals enroll to set up "
            "your Approval Token."
        )
    return "You have no Approval Token yet. Run /approvals enroll to set one up."


def _token_locked(error: TokenLocked) -> str:
    # Round up so "try again after that" is never a minute too early.
    shown = error.until + timedelta(seconds=59, microseconds=999_999)
    return (
        f"Too many wrong codes: your Approval Token is locked until {utc(shown)}. "
        "Try again after that, or ask an admin to unlock it."
    )


def _wrong_code(error: WrongCode) -> str:
    tries = "1 try" if error.tries_left == 1 else f"{error.tries_left} tries"
    return (
        "That code is not right. Check the ApprovalFlow entry in your authenticator app and "
        f"type the current code ({tries} left before your token is locked)."
    )


def _token_revoked(error: TokenRevoked) -> str:
    when = f" on {utc(error.revoked_at)}" if error.revoked_at is not None else ""
    return f"Your Approval Token was revoked{when}. Run /approvals enroll to set up a new one."


NO_TOKEN = {
    "revoke": "No Approval Token is enrolled for this person, so nothing was revoked.",
    "extend": "This person has no active Approval Token to extend; they need to run "
    "/approvals enroll.",
    "unlock": "This person has no Approval Token, so there is nothing to unlock.",
}

# --- the Atlassian link ----------------------------------------------------------------------

CONNECT_AGAIN = "Run /approvals connect to link your account again."


def _missing_scope(error: MissingScope) -> str:
    return (
        f"Your Atlassian link is missing the permission {', '.join(error.scopes)}. "
        "Run /approvals connect and allow every permission asked for."
    )


def _authorize_failed(error: AuthorizeFailed) -> str:
    return (
        f"Atlassian did not authorize the link ({error.error}), so nothing was linked. "
        "Run /approvals connect to try again; if it keeps failing, tell your Slack admin."
    )


def _site_not_granted(error: SiteNotGranted) -> str:
    return (
        f"The access you granted does not include {error.site}, so nothing was linked. "
        f"Run /approvals connect and choose {error.site} on Atlassian's consent screen."
    )


# --- ApprovalFlow and Confluence -------------------------------------------------------------


def _said(text: str | None) -> str:
    return f": {text}" if text else ""


def _request_rejected(error: RequestRejected) -> str:
    if error.server_error:
        said = _said(error.server_error)
    elif error.status is not None:
        said = f" (HTTP {error.status})"
    else:
        said = " without saying why"
    return f"ApprovalFlow refused the request{said}."


APP_APIS_DISABLED = (
    "Atlassian refused the call to ApprovalFlow's API (HTTP 403{said}). This usually means App "
    "REST APIs are turned off for ApprovalFlow on this site (they are off by default). A site "
    "or org admin can turn them on: Atlassian Administration > Apps > Sites > (your site) > "
    "Connected apps > ApprovalFlow > View app details > Details > App REST APIs > Enable."
)


def _confluence_refused(error: ConfluenceRefused) -> str:
    said = _said(error.server_error) or (f" (HTTP {error.status})" if error.status else "")
    return f"Confluence refused the request{said}."


def _incomplete_call(error: IncompleteCall) -> str:
    return f"That request to ApprovalFlow is incomplete: {error.problems}."


# --- requests: signing -----------------------------------------------------------------------


def _signed_already(error: SignedAlready) -> str:
    request, signature = error.request, error.signature
    verb = "approved" if signature.decision is Decision.APPROVE else "rejected"
    return (
        f"You already {verb} {request.id} at {utc(signature.signed_at)}. A person signs a "
        "request once."
    )


def _last_signer(error: Closed | BeingSubmitted) -> tuple[str, str]:
    last = error.request.signatures[-1] if error.request.signatures else None
    if last is None:
        return "someone", ""
    return last.signer.name, utc(last.signed_at)


def _being_submitted(error: BeingSubmitted) -> str:
    who, _ = _last_signer(error)
    return (
        f"{who} approved {error.request.id} a moment ago and it is being submitted now, so "
        "there is nothing left to sign."
    )


def _closed(error: Closed) -> str:
    request = error.request
    who, when = _last_signer(error)
    match request.status:
        case Status.SUBMITTED | Status.CLOSED:
            return (
                f"{request.id} was already approved by {who} at {when} and submitted for "
                "review, so there is nothing left to sign."
            )
        case Status.REJECTED:
            return (
                f"{request.id} was rejected by {who} at {when}, so there is nothing left to "
                "sign. The requester can post a new request."
            )
        case _ if request.status is Status.EXPIRED or request.expires_at <= error.now:
            return (
                f"{request.id} expired at {utc(request.expires_at)} without a signature. Ask "
                "the requester to post a new request if it is still needed."
            )
        case _:
            return f"{request.id} can no longer be signed."


def _stage_filled(error: StageFilled) -> str:
    request = error.request
    index = request.open_stage
    assert index is not None  # a filled stage is refused only while a later one is open
    now_open = upper_first(stage_label(request, index))
    return (
        f"The stage you signed for, {stage_label(request, error.wanted)}, got its signatures "
        f"meanwhile, so yours was not recorded. {now_open} is open now; "
        f"{signers_text(request.stages[index])} signs it."
    )


def _not_your_stage_yet(error: NotYourStageYet) -> str:
    request = error.request
    index = request.open_stage
    assert index is not None  # refused only while an earlier stage is open
    return (
        f"{request.id} is not at your stage yet: {stage_label(request, index)} is open, and "
        f"{signers_text(request.stages[index])} signs it. You sign "
        f"{stage_label(request, error.wanted)}; you will be mentioned when it opens."
    )


def _stage_moved(error: StageMoved) -> str:
    request = error.request
    return (
        f"{request.id} moved on while your form was open: you now sign "
        f"{stage_label(request, error.stage)}, which means "
        f"“{request.stages[error.stage].meaning}”. Open the form again to read what you sign; "
        "nothing was recorded."
    )


def _not_a_signer(error: NotASigner) -> str:
    request = error.request
    if len(request.stages) == 1:
        return (
            f"Only the reviewers named on {request.id} can sign it, and you are not one of "
            "them. Ask the requester to post a new request naming you if you should sign."
        )
    return (
        f"You are not a signer of any stage of {request.id} still to sign. Ask the requester "
        "to reassign a signer to you if you should sign: /approvals reassign."
    )


def _nothing_submittable(error: NothingSubmittable) -> str:
    snapshot = error.snapshot
    what = described(snapshot.target, snapshot.title)
    if snapshot.archived:
        return f"{what} is archived, so nothing in it can be submitted and no request was posted."
    return (
        f"Nothing in {what} can be submitted for review now, so no request was posted:\n"
        + blocked_lines(snapshot)
    )


def _nothing_left(error: NothingLeft) -> str:
    request, snapshot = error.request, error.snapshot
    if snapshot.archived:
        return (
            f"{described(request.target, snapshot.title)} was archived since {request.id} was "
            "posted, so nothing can be submitted. Reject the request, or let it expire."
        )
    return (
        f"Nothing in {request.id} can be submitted now (it changed since it was posted):\n"
        + blocked_lines(snapshot)
        + "\nReject the request, or ask the requester for a new one once this is fixed."
    )


def _snapshot_changed(error: SnapshotChanged) -> str:
    return (
        f"What you confirmed is not what {error.request.id} would sign now: its pages changed "
        "since the form was opened. Check the pages as they are now and sign again."
    )


def _page_hidden(error: PageHidden) -> str:
    return (
        f"Confluence does not show you page {error.page_id} (a page restriction keeps you out, "
        "or it was deleted), so you cannot sign what it says. Ask a space admin for access, or "
        "ask the requester to name someone who can read it."
    )


def _not_a_request_id(error: NotARequestId) -> str:
    shown = error.text.strip()[:20] or "(nothing)"
    return f"“{shown}” is not a request id. Request ids look like AR-7K3Q."


def _reason_invalid(error: ReasonInvalid) -> str:
    return (
        f"A rejection needs a reason of {error.shortest}-{error.longest} characters "
        f"(yours has {error.length}), so the requester knows what to change."
    )


# --- requests: posting and reassigning -------------------------------------------------------


def _unknown_policy(error: UnknownPolicy) -> str:
    listed = ", ".join(error.known) or "none: no SIGNING_POLICIES file is set"
    return (
        f"There is no signing policy “{error.name[:40]}”. Policies: {listed}. "
        "/approvals policies lists them."
    )


def _reassign_not_allowed(error: ReassignNotAllowed) -> str:
    request = error.request
    return (
        f"Only the requester of {request.id} ({mention(request.requester)}) or an admin can "
        "reassign its signers."
    )


def _not_a_named_signer(error: NotANamedSigner) -> str:
    return (
        f"{mention(error.who)} is not named as a signer of a stage of {error.request.id} still "
        "to sign. Reassign names one person who was named in the policy or the command."
    )


# --- watched spaces --------------------------------------------------------------------------


def _not_a_space(error: NotASpace) -> str:
    return (
        f"“{error.text[:40]}” is not a space key or id. Give the space key (like DOCS, from the "
        "space's address …/wiki/spaces/DOCS/…) or its numeric id."
    )


def _no_such_space(error: NoSuchSpace) -> str:
    return (
        f"There is no Confluence space with the key {error.key} that you can see. Check the key "
        "(it is in the space's address: …/wiki/spaces/KEY/…), or give the space id."
    )


# --- targets ---------------------------------------------------------------------------------

WHAT_TO_PASTE = (
    "a change set id (like cs-abc123), a page id (like 123456) or a Confluence page link "
    "(like https://your-site.atlassian.net/wiki/spaces/KEY/pages/123456/Title)"
)
PASTE_FULL_URL = (
    "I can't tell which page that link points to. Open the page in Confluence and paste the "
    "full address from the browser (…/wiki/spaces/KEY/pages/123456/Title), or its page id."
)


def _not_a_page_link(error: NotAPageLink) -> str:
    if not error.text:
        return PASTE_FULL_URL
    if not error.readable:
        return f"“{error.text}” is not a link I can read. {PASTE_FULL_URL}"
    return f"“{error.text}” is not a Confluence link. Give {WHAT_TO_PASTE}."


def _other_site(error: OtherSite) -> str:
    return (
        f"That link is to {error.host}, but this bot works with {error.site}. "
        f"Paste a link to a page on {error.site}."
    )


# --- administration and evidence -------------------------------------------------------------


def _not_an_admin(error: NotAnAdmin) -> str:
    return (
        "Only Slack workspace admins and owners, and the people named in ADMIN_USER_IDS, can "
        f"use `/approvals {error.command}`. Nothing was shown or changed."
    )


def _evidence_not_allowed(error: EvidenceNotAllowed) -> str:
    return (
        f"Only the requester of {error.request_id}, the people who signed it and admins can "
        "get its evidence report. Nothing was generated."
    )


# One renderer per refusal type (a test holds this to every type of services/errors.py).
REFUSALS: dict[type[Any], Callable[[Any], str]] = {
    # the Approval Token
    CodeFormatError: lambda e: WHAT_A_CODE_IS,
    TokenNotEnrolled: _token_not_enrolled,
    TokenPending: lambda e: (
        "Your Approval Token is not active yet: confirm it with the Enter "
        "code button in the enrolment message I sent you, then sign again."
    ),
    NoPendingEnrolment: _no_pending_enrolment,
    TokenExpired: lambda e: (
        f"Your Approval Token expired on {utc(e.expired_at)}. Run /approvals enroll to renew it."
    ),
    TokenRevoked: _token_revoked,
    TokenLocked: _token_locked,
    WrongCode: _wrong_code,
    CodeReused: lambda e: (
        "That code was already used. Wait for the next code in your "
        "authenticator app (a new one appears every 30 seconds) and enter it."
    ),
    TokenChanged: lambda e: (
        "Your Approval Token changed while the code was being checked. "
        "Wait for the next code and try again."
    ),
    NoToken: lambda e: NO_TOKEN[e.act],
    # the Atlassian link
    NotLinked: lambda e: (
        "You have not linked your Atlassian account yet. Run /approvals connect first."
    ),
    LinkBroken: lambda e: (
        "Your Atlassian link has stopped working (it was revoked or could "
        f"not be refreshed). {CONNECT_AGAIN}"
    ),
    MissingScope: _missing_scope,
    LinkRefused: lambda e: (
        "Atlassian refused the sign-in (it expired or was already used). " + CONNECT_AGAIN
    ),
    BadCallback: lambda e: (
        "That sign-in answer was incomplete or malformed, so nothing was "
        "linked. Run /approvals connect and follow the new button."
    ),
    LinkStateInvalid: lambda e: (
        "This sign-in link is unknown, was already used, or is older "
        "than 10 minutes, so nothing was linked. Run /approvals connect for a new one."
    ),
    ConsentDenied: lambda e: (
        "You did not allow access, so nothing was linked. Run /approvals "
        "connect again when you are ready, and allow access."
    ),
    AuthorizeFailed: _authorize_failed,
    SiteNotGranted: _site_not_granted,
    EmailMismatch: lambda e: (
        "The Atlassian account you allowed does not have the email "
        "address of your Slack profile, so nothing was linked. Sign in to Atlassian as yourself "
        "and run /approvals connect again."
    ),
    AccountTaken: lambda e: (
        "That Atlassian account is already linked to another Slack user, "
        "so nothing was linked. Each person links their own account; the other user can run "
        "/approvals disconnect."
    ),
    # ApprovalFlow and Confluence
    RequestRejected: _request_rejected,
    ApprovalFlowForbidden: lambda e: f"ApprovalFlow refused this{_said(e.server_error)}.",
    LicenceInactive: lambda e: (
        "ApprovalFlow's licence is not active on this Confluence site, "
        "so it refuses every API call. Ask a Confluence admin to renew or reactivate ApprovalFlow "
        "(Apps > Manage apps)."
    ),
    AppApisDisabled: lambda e: APP_APIS_DISABLED.format(said=_said(e.server_error)),
    ApprovalFlowNotFound: lambda e: (
        f"ApprovalFlow could not find that{_said(e.server_error)}. Check the id or link."
    ),
    GatewayNotFound: lambda e: (
        "ApprovalFlow's API was not found at the configured address "
        "(HTTP 404). An admin should check APPROVALFLOW_APP_ID and APPROVALFLOW_ENV_ID (or "
        "APPROVALFLOW_BASE_URL)."
    ),
    ConfluenceRefused: _confluence_refused,
    ConfluenceForbidden: lambda e: f"Confluence refused this{_said(e.server_error)}.",
    ConfluenceNotFound: lambda e: f"Confluence found nothing there{_said(e.server_error)}.",
    IncompleteCall: _incomplete_call,
    # requests: signing
    SignedAlready: _signed_already,
    BeingSubmitted: _being_submitted,
    Closed: _closed,
    NoLongerSignable: lambda e: f"{e.request.id} can no longer be signed as asked.",
    StageFilled: _stage_filled,
    SigningElsewhere: lambda e: (
        f"You are already signing {e.request.id} in another window. "
        "Finish there, or try again in a minute."
    ),
    NotYourStageYet: _not_your_stage_yet,
    StageMoved: _stage_moved,
    NotASigner: _not_a_signer,
    OwnRequest: lambda e: (
        f"You asked for {e.request.id}, so someone else must sign it: a "
        "requester cannot sign their own request."
    ),
    NothingSubmittable: _nothing_submittable,
    NothingLeft: _nothing_left,
    NoneSubmitted: lambda e: f"ApprovalFlow submitted none of the pages ({reasons(e.outcomes)})",
    SnapshotChanged: _snapshot_changed,
    PageHidden: _page_hidden,
    NoSuchRequest: lambda e: (
        f"There is no request {e.request_id}. Check the id on the request "
        "message, or run /approvals pending to see what you can sign."
    ),
    RequestGone: lambda e: f"There is no request {e.request_id} any more.",
    NotARequestId: _not_a_request_id,
    NotADecision: lambda e: "A decision is approve or reject.",
    FormNotOurs: lambda e: (
        "This form is not one the bot opened. Open it again from the request message."
    ),
    ReasonInvalid: _reason_invalid,
    CommentTooLong: lambda e: (
        f"A comment is at most {e.longest} characters (yours has {e.length})."
    ),
    # requests: posting and reassigning
    SelfAsReviewer: lambda e: (
        "You cannot name yourself as a reviewer: someone else must sign "
        "your request. Name other reviewers, or none so that anyone else in the channel may sign."
    ),
    ReviewersAndPolicy: lambda e: (
        "Name reviewers or a policy, not both: named reviewers make a "
        "one-signature policy of their own."
    ),
    UnknownPolicy: _unknown_policy,
    ReassignNotAllowed: _reassign_not_allowed,
    ReassignSamePerson: lambda e: (
        "Name two different people: the signer to replace, then the new one."
    ),
    ReasonTooLong: lambda e: f"A reason is at most {e.longest} characters.",
    NobodyLeftToSign: lambda e: (
        f"{e.request.id} is {e.request.status.value}: nobody is left to sign it."
    ),
    SignerSignedAlready: lambda e: (
        f"{mention(e.who)} has signed {e.request.id} already, so cannot be reassigned."
    ),
    RequesterCannotSign: lambda e: f"{mention(e.who)} asked for {e.request.id}, so cannot sign it.",
    NotANamedSigner: _not_a_named_signer,
    # watched spaces, people
    NotWatched: lambda e: f"Space {e.space} is not watched. Nothing was changed.",
    NotASpace: _not_a_space,
    SpaceIdsOnly: lambda e: "Give the space's numeric id: this bot cannot look up space keys.",
    NoSuchSpace: _no_such_space,
    Deactivated: lambda e: (
        f"{mention(e.user)} was deactivated in Slack, so they can no longer act here."
    ),
    # targets
    NoTarget: lambda e: f"Give {WHAT_TO_PASTE}.",
    NotATarget: lambda e: f"“{e.text}” is not a target. Give {WHAT_TO_PASTE}.",
    NotAPageLink: _not_a_page_link,
    BlogPostLink: lambda e: (
        "That link is to a blog post; ApprovalFlow signs off pages. Paste a page link."
    ),
    OtherSite: _other_site,
    ZeroPageId: lambda e: "0 is not a page id. " + PASTE_FULL_URL,
    # administration, evidence
    NotAnAdmin: _not_an_admin,
    ExtendDaysInvalid: lambda e: (
        "Extend by at least 1 day."
        if e.most is None
        else f"Extend by a whole number of days from 1 to {e.most}."
    ),
    AdminReasonTooLong: lambda e: f"Keep the reason under {e.longest} characters.",
    EvidenceNotAllowed: _evidence_not_allowed,
}
