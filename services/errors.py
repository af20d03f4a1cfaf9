"""The one error tree of approvals-bot; foreign exceptions are mapped into it at their boundary.

    ApprovalsError                  base of every error we raise on purpose
    ├── UserError                   an expected refusal a person is told about: it carries facts,
    │   │                           the words are handlers/blocks/refusals.py's
    │   ├── InputError              malformed input: bad subcommand, target, code format ...
    │   │   ├── CodeFormatError     an Approval Token code that is not 6 digits (not an attempt)
    │   │   ├── ReasonInvalid       a rejection reason missing or too short or long
    │   │   ├── CommentTooLong, ReasonTooLong, NotADecision, FormNotOurs, NotARequestId,
    │   │   │   SelfAsReviewer, ReviewersAndPolicy, UnknownPolicy, ReassignSamePerson,
    │   │   │   NotASpace, SpaceIdsOnly, NoTarget, NotATarget, NotAPageLink, BlogPostLink,
    │   │   │   OtherSite, ZeroPageId, ExtendDaysInvalid, AdminReasonTooLong, IncompleteCall
    │   ├── NotAllowed              the caller may not do this
    │   │   └── NotASigner, OwnRequest, PageHidden, ReassignNotAllowed, NotAnAdmin,
    │   │       EvidenceNotAllowed
    │   ├── NotFound                the thing named does not exist (or no longer does)
    │   │   └── NoSuchRequest, RequestGone, NotWatched, NoSuchSpace, Deactivated, NoToken,
    │   │       ApprovalFlowNotFound, GatewayNotFound, ConfluenceNotFound
    │   ├── TokenError              the Approval Token cannot sign now, or the code was refused
    │   │   ├── TokenNotEnrolled    no token: run /approvals enroll
    │   │   ├── TokenPending        enrolled but not yet confirmed with a code
    │   │   ├── NoPendingEnrolment  a confirmation code came with no enrolment waiting for it
    │   │   ├── TokenExpired        past its validity (.expired_at): enrol again to renew
    │   │   ├── TokenRevoked        revoked (lost device, admin reset): enrol again
    │   │   ├── TokenLocked         too many wrong codes; locked until .until
    │   │   ├── WrongCode           the code does not match; .tries_left before the lock
    │   │   ├── CodeReused          the code's time step was already used: wait for the next code
    │   │   └── TokenChanged        the token changed while the code was checked: try again
    │   ├── LinkError               the Atlassian link cannot act for the user
    │   │   ├── NotLinked           no link: run /approvals connect
    │   │   ├── LinkBroken          the grant was revoked or its refresh failed: connect again
    │   │   ├── MissingScope        the grant lacks a scope an action needs (.scopes)
    │   │   ├── LinkRefused         Atlassian refused a code or a refresh token (.error)
    │   │   └── LinkAttemptFailed   a connect ended without a link (.reason names the page shown)
    │   │       ├── BadCallback     missing, repeated or oversized callback parameters
    │   │       ├── LinkStateInvalid  unknown, used or expired state: run connect again
    │   │       ├── ConsentDenied   the person chose Deny on Atlassian's consent screen
    │   │       ├── AuthorizeFailed Atlassian sent another error back (.error)
    │   │       ├── SiteNotGranted  the grant does not include CONFLUENCE_SITE_URL (.site)
    │   │       ├── EmailMismatch   the Slack and Atlassian emails differ, or one is hidden
    │   │       └── AccountTaken    the Atlassian account is linked to another Slack user
    │   ├── RequestError            an approval request cannot be signed as asked
    │   │   ├── NothingToSubmit     nothing submittable: NothingSubmittable (at posting),
    │   │   │                       NothingLeft (at signing), NoneSubmitted (by ApprovalFlow)
    │   │   ├── RequestClosed       no longer pending: Closed, NoLongerSignable, NobodyLeftToSign
    │   │   ├── AlreadySigned       this person signed already, or someone was quicker:
    │   │   │                       SignedAlready, BeingSubmitted, StageFilled, SigningElsewhere
    │   │   ├── SnapshotChanged     pages changed since the form opened: re-confirm
    │   │   ├── NotYourStageYet     a signer of a later stage (.wanted)
    │   │   ├── StageMoved          the form showed another stage's meaning
    │   │   └── ReassignRefused     SignerSignedAlready, RequesterCannotSign, NotANamedSigner
    │   ├── ApprovalFlowRefused     ApprovalFlow said no for a reason the user or an admin can fix
    │   │   ├── RequestRejected     400 (or 409/422): the server's own error text (.server_error)
    │   │   ├── ApprovalFlowForbidden  403 with ApprovalFlow's own text
    │   │   ├── LicenceInactive     403: the ApprovalFlow licence is not active on the site
    │   │   └── AppApisDisabled     403 from the gateway: App REST APIs are not enabled
    │   └── ConfluenceRefused       Confluence refused a read for a reason a person can act on
    │       └── ConfluenceForbidden 403 with Confluence's own text
    ├── TransitionRefused           a request's lifecycle step does not apply to it as it is
    │   │                           (services/requests/model.py); services/requests/refusals.py
    │   │                           picks the refusal a person is told, a job just skips it
    │   ├── NotPending              the request is not pending (.status)
    │   ├── SignedBefore            this person signed the request already (.signature)
    │   ├── NotEligible             not a signer of any of its stages
    │   ├── StageNotOpen            a signer of a later stage (.open_stage, .wanted_stage)
    │   ├── NotHolder               the submit claim belongs to another attempt
    │   └── NotDue                  a job's step whose time has not come, or came already
    ├── ConfigError                 the configuration is missing or malformed (startup only)
    ├── StoreError                  the store failed or did not answer (mapped from redis)
    ├── SecretError                 a stored secret cannot be decrypted with any configured key
    └── UpstreamError               an outside HTTP service failed (mapped from httpx / authlib);
        │                           .outcome_unknown: a write may have been applied anyway
        ├── UpstreamTimeout         no answer in time
        ├── UpstreamUnavailable     connection refused, 5xx, or an unusable answer
        ├── RateLimited             429 after our retries (.retry_after seconds)
        ├── ClientRejected          Atlassian refused our client id/secret: an admin must fix them
        └── SlackRefused            Slack answered ok: false (.error: Slack's code, .method)
            ├── SlackGone           what the call named is gone: message, file, modal, user, group
            ├── SlackChannelClosed  the channel cannot take the bot's messages (archived, left ...)
            ├── SlackAppRevoked     the bot's token no longer works (uninstalled, revoked)
            └── SlackConflict       a modal changed since the bot read it (hash_conflict)

Boundaries that map foreign exceptions into this tree (one each):
    redis      -> StoreError        bot/stores/_boundary.py
    httpx, authlib (Atlassian 3LO) -> LinkError / Upstream*     services/linking (one module)
    httpx, pydantic (ApprovalFlow API) -> ApprovalFlowRefused / LinkBroken / MissingScope /
                                      NotFound / Upstream*  services/approvalflow/boundary.py
    httpx, pydantic (Confluence v2) -> ConfluenceRefused / LinkBroken / MissingScope /
                                      NotFound / Upstream*  services/confluence/boundary.py
    cryptography -> SecretError     services/secretbox.py
    slack_sdk, aiohttp (Slack Web API) -> Slack* / RateLimited / Upstream*  bot/slack/failures.py

A `UserError` raised by the services is a typed refusal: its fields are facts (the request, the
stage, who, when, which pages) and it holds no text meant for a person. One renderer,
handlers/blocks/refusals.py, words each type for every place a refusal is shown (modal errors,
ephemeral replies, DMs, App Home); a test holds it to every type here. handlers/ and bot/ may
raise a category (InputError, NotAllowed, NotFound) with a sentence of their own, already worded
in handlers/messages.py. `str()` of any error is for logs: the type and its facts, no secret
(never a code, token or key: no field holds one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # only for types: importing these modules here would be circular
    from services.approvalflow.targets import TargetSnapshot
    from services.requests.model import ApprovalRequest, PageOutcome, Signature


class ApprovalsError(Exception):
    """Base of every error approvals-bot raises on purpose."""


def _fact(value: Any) -> str:
    """One fact as a log shows it: a request by its id, a time in ISO form, a snapshot by its
    target; any other object by its type only, so nothing long or private reaches a log."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return repr(value)[:120]
    if isinstance(value, tuple | list | frozenset | set):
        return "[" + ", ".join(_fact(v) for v in list(value)[:10]) + "]"
    for name in ("id", "target"):
        found = getattr(value, name, None)
        if found is not None:
            return str(found)
    return type(value).__name__


class UserError(ApprovalsError):
    """An expected refusal a person is told about (in words of handlers/blocks/refusals.py)."""

    def __str__(self) -> str:
        facts = [f"{k}={_fact(v)}" for k, v in vars(self).items() if not k.startswith("_")]
        if facts:
            return f"{type(self).__name__}({', '.join(facts)})"
        return super().__str__() or type(self).__name__

    __repr__ = __str__


class InputError(UserError):
    """The user's input is malformed."""


class NotAllowed(UserError):
    """The caller is not allowed to do this."""


class NotFound(UserError):
    """The thing the user named does not exist, or no longer does."""


class CodeFormatError(InputError):
    """The Approval Token code is not exactly 6 digits; this never counts as a failed attempt
    (the input is never kept: it may be a code, or something pasted by mistake)."""


class TokenError(UserError):
    """The Approval Token cannot be used now, or its code was refused."""


@dataclass(eq=False, repr=False)
class TokenNotEnrolled(TokenError):
    """The user has no Approval Token (`lapsed`: an enrolment ran out before its confirmation)."""

    lapsed: bool = False


class TokenPending(TokenError):
    """The Approval Token is enrolled but not yet confirmed with a code."""


@dataclass(eq=False, repr=False)
class NoPendingEnrolment(TokenError):
    """A confirmation code arrived but no enrolment is waiting for one: `why` is "none",
    "already_active" (until `active_until`), "expired" or "replaced" (by a newer enrolment)."""

    why: Literal["none", "already_active", "expired", "replaced"]
    active_until: datetime | None = None


@dataclass(eq=False, repr=False)
class TokenExpired(TokenError):
    """The Approval Token is past its validity."""

    expired_at: datetime


@dataclass(eq=False, repr=False)
class TokenRevoked(TokenError):
    """The Approval Token was revoked (reported lost, or reset by an admin)."""

    revoked_at: datetime | None


@dataclass(eq=False, repr=False)
class TokenLocked(TokenError):
    """Too many wrong codes: signing is locked until `until`."""

    until: datetime


@dataclass(eq=False, repr=False)
class WrongCode(TokenError):
    """The code does not match; `tries_left` more wrong codes lock the token."""

    tries_left: int


class CodeReused(TokenError):
    """The code's time step was already accepted once for this user."""


class TokenChanged(TokenError):
    """The token record changed under every try of a code check: the next code will do."""


class LinkError(UserError):
    """The user's Atlassian link cannot act for them."""


class NotLinked(LinkError):
    """The user has not linked an Atlassian account."""


class LinkBroken(LinkError):
    """The stored grant no longer works (revoked, expired, or its refresh failed)."""


@dataclass(eq=False, repr=False)
class MissingScope(LinkError):
    """The grant lacks scopes an action needs, the one to fix first first."""

    scopes: list[str]


@dataclass(eq=False, repr=False)
class LinkRefused(LinkError):
    """Atlassian refused an authorization code or a refresh token; `error` is its OAuth code."""

    error: str


class LinkAttemptFailed(LinkError):
    """A connect attempt ended without a link; `reason` names it on the callback page."""

    reason = "failed"


@dataclass(eq=False, repr=False)
class BadCallback(LinkAttemptFailed):
    """The callback came with missing, repeated or oversized parameters. `problem` is for the
    log; it is never shown, it may echo what was sent."""

    reason = "bad_request"
    problem: str


class LinkStateInvalid(LinkAttemptFailed):
    """The state is unknown, was already used, or is older than its 10 minutes."""

    reason = "state_invalid"


class ConsentDenied(LinkAttemptFailed):
    """The person chose Deny on Atlassian's consent screen."""

    reason = "denied"


@dataclass(eq=False, repr=False)
class AuthorizeFailed(LinkAttemptFailed):
    """Atlassian sent an error other than access_denied back to the callback."""

    reason = "authorize_failed"
    error: str


@dataclass(eq=False, repr=False)
class SiteNotGranted(LinkAttemptFailed):
    """The grant does not include the configured Confluence site."""

    reason = "wrong_site"
    site: str


class EmailMismatch(LinkAttemptFailed):
    """REQUIRE_EMAIL_MATCH: the Slack and Atlassian emails differ, or one of them is hidden
    (neither address is ever named: whoever consented may not be the Slack user who asked)."""

    reason = "email_mismatch"


class AccountTaken(LinkAttemptFailed):
    """The Atlassian account is already linked to another Slack user."""

    reason = "account_taken"


# --- outside services that said no ---------------------------------------------------------


class ApprovalFlowRefused(UserError):
    """ApprovalFlow refused the call for a reason a person can act on."""


@dataclass(eq=False, repr=False)
class RequestRejected(ApprovalFlowRefused):
    """ApprovalFlow answered 400 (or 409/422, or a 2xx error body) with `server_error`, its own
    text ("" when it gave none; `status` then, if any)."""

    server_error: str
    status: int | None = None


@dataclass(eq=False, repr=False)
class ApprovalFlowForbidden(ApprovalFlowRefused):
    """ApprovalFlow itself answered 403, with `server_error` (or none)."""

    server_error: str | None


class LicenceInactive(ApprovalFlowRefused):
    """ApprovalFlow's licence is not active on the site."""


@dataclass(eq=False, repr=False)
class AppApisDisabled(ApprovalFlowRefused):
    """The Atlassian gateway refuses app REST API calls for ApprovalFlow (its text, if any)."""

    server_error: str | None


@dataclass(eq=False, repr=False)
class ApprovalFlowNotFound(NotFound):
    """ApprovalFlow found nothing by what was given (its text, if any)."""

    server_error: str | None


class GatewayNotFound(NotFound):
    """The gateway knows no such app route: the configured app or environment id is wrong."""


@dataclass(eq=False, repr=False)
class ConfluenceRefused(UserError):
    """Confluence refused a request (400, 409, 413, 422) with its text, or only a `status`."""

    server_error: str | None
    status: int | None = None


class ConfluenceForbidden(ConfluenceRefused):
    """Confluence answered 403 with a text of its own (not about scopes)."""


@dataclass(eq=False, repr=False)
class ConfluenceNotFound(NotFound):
    """Confluence found nothing there (its text, if any)."""

    server_error: str | None


@dataclass(eq=False, repr=False)
class IncompleteCall(InputError):
    """A call to ApprovalFlow lacks what its body needs (`problems`: field: what is wrong)."""

    problems: str


# --- approval requests ---------------------------------------------------------------------


class RequestError(UserError):
    """An approval request cannot be signed as asked."""


class NothingToSubmit(RequestError):
    """Nothing in the target can be submitted."""


@dataclass(eq=False, repr=False)
class NothingSubmittable(NothingToSubmit):
    """At posting: nothing in the target can be submitted (archived, or every page blocked)."""

    snapshot: TargetSnapshot


@dataclass(eq=False, repr=False)
class NothingLeft(NothingToSubmit):
    """At signing: nothing in the request can be submitted any more."""

    request: ApprovalRequest
    snapshot: TargetSnapshot


@dataclass(eq=False, repr=False)
class NoneSubmitted(NothingToSubmit):
    """ApprovalFlow submitted none of the pages; `outcomes` say why, page by page."""

    outcomes: tuple[PageOutcome, ...]


class RequestClosed(RequestError):
    """The request is no longer pending (submitted, rejected, expired or closed)."""


@dataclass(eq=False, repr=False)
class Closed(RequestClosed):
    """Submitted, rejected or expired (as of `now`): nothing left to sign."""

    request: ApprovalRequest
    now: datetime


@dataclass(eq=False, repr=False)
class NoLongerSignable(RequestClosed):
    """The request refused the step in a way no other refusal tells."""

    request: ApprovalRequest


@dataclass(eq=False, repr=False)
class NobodyLeftToSign(RequestClosed):
    """A reassign of a request that is no longer pending."""

    request: ApprovalRequest


class AlreadySigned(RequestError):
    """This person already signed this request, or someone was quicker."""


@dataclass(eq=False, repr=False)
class SignedAlready(AlreadySigned):
    """This person signed the request already (`signature`): one signature per person."""

    request: ApprovalRequest
    signature: Signature


@dataclass(eq=False, repr=False)
class BeingSubmitted(AlreadySigned):
    """The last signature is in and the submit is under way."""

    request: ApprovalRequest


@dataclass(eq=False, repr=False)
class StageFilled(AlreadySigned):
    """The stage this person signed for (`wanted`) got its signatures meanwhile."""

    request: ApprovalRequest
    wanted: int


@dataclass(eq=False, repr=False)
class SigningElsewhere(AlreadySigned):
    """This person's signature of the request is under way in another window."""

    request: ApprovalRequest


@dataclass(eq=False, repr=False)
class SnapshotChanged(RequestError):
    """The pages changed since the form was opened; the signer must re-confirm. `snapshot` is
    the target as it stands now (taken fresh with the signer's token), for the form to show."""

    request: ApprovalRequest
    snapshot: TargetSnapshot


@dataclass(eq=False, repr=False)
class NotYourStageYet(RequestError):
    """This person signs a later stage (`wanted`) than the one open."""

    request: ApprovalRequest
    wanted: int


@dataclass(eq=False, repr=False)
class StageMoved(RequestError):
    """The form showed another stage's meaning than the one this person signs now (`stage`)."""

    request: ApprovalRequest
    stage: int


class ReassignRefused(RequestError):
    """The reassign does not apply to the request as it is."""


@dataclass(eq=False, repr=False)
class SignerSignedAlready(ReassignRefused):
    """`who` (the one to replace, or the new one) has signed the request already."""

    request: ApprovalRequest
    who: str


@dataclass(eq=False, repr=False)
class RequesterCannotSign(ReassignRefused):
    """The new signer `who` is the requester."""

    request: ApprovalRequest
    who: str


@dataclass(eq=False, repr=False)
class NotANamedSigner(ReassignRefused):
    """`who` is not named as a signer of a stage still to sign."""

    request: ApprovalRequest
    who: str


@dataclass(eq=False, repr=False)
class NotASigner(NotAllowed):
    """This person signs no stage of the request (still to sign)."""

    request: ApprovalRequest


@dataclass(eq=False, repr=False)
class OwnRequest(NotAllowed):
    """The requester cannot sign their own request."""

    request: ApprovalRequest


@dataclass(eq=False, repr=False)
class PageHidden(NotAllowed):
    """Confluence does not show this person the page (a restriction, or it was deleted)."""

    page_id: str


@dataclass(eq=False, repr=False)
class ReassignNotAllowed(NotAllowed):
    """Only the requester or an admin reassigns the request's signers."""

    request: ApprovalRequest


@dataclass(eq=False, repr=False)
class NoSuchRequest(NotFound):
    request_id: str


@dataclass(eq=False, repr=False)
class RequestGone(NotFound):
    """The request was there and is not any more."""

    request_id: str


@dataclass(eq=False, repr=False)
class NotARequestId(InputError):
    """`text` is not a request id (AR-7K3Q)."""

    text: str


class NotADecision(InputError):
    """A decision other than approve or reject."""


class FormNotOurs(InputError):
    """A form the bot did not open (no digest of what was shown)."""


@dataclass(eq=False, repr=False)
class ReasonInvalid(InputError):
    """A rejection reason missing, or not `shortest`-`longest` characters long (`length`)."""

    shortest: int
    longest: int
    length: int


@dataclass(eq=False, repr=False)
class CommentTooLong(InputError):
    longest: int
    length: int


@dataclass(eq=False, repr=False)
class ReasonTooLong(InputError):
    """A reassign's reason longer than `longest`."""

    longest: int


class SelfAsReviewer(InputError):
    """The requester named themselves as a reviewer."""


class ReviewersAndPolicy(InputError):
    """Both reviewers and a policy were named."""


@dataclass(eq=False, repr=False)
class UnknownPolicy(InputError):
    """No policy is called `name`; `known` are the names there are."""

    name: str
    known: Sequence[str]


class ReassignSamePerson(InputError):
    """A reassign from a person to the same person."""


# --- watched spaces ------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class NotWatched(NotFound):
    space: str


@dataclass(eq=False, repr=False)
class NotASpace(InputError):
    """`text` is neither a space key nor a space id."""

    text: str


class SpaceIdsOnly(InputError):
    """A space key given where only ids can be looked up (no Confluence API configured)."""


@dataclass(eq=False, repr=False)
class NoSuchSpace(NotFound):
    """No space with the key `key` that this person can see."""

    key: str


@dataclass(eq=False, repr=False)
class Deactivated(NotFound):
    """Slack answers `user` as deactivated."""

    user: str


# --- targets a person pastes (services/approvalflow/page_url.py) ----------------------------


class NoTarget(InputError):
    """Nothing given where a target was needed."""


@dataclass(eq=False, repr=False)
class NotATarget(InputError):
    """`text` (as shown back: shortened) is neither an id nor a link."""

    text: str


@dataclass(eq=False, repr=False)
class NotAPageLink(InputError):
    """`text` is a link, but not one to a Confluence page: `readable` says whether it parsed as
    a URL at all; `text` is "" when the link cannot tell which page (a share link ...)."""

    text: str
    readable: bool = True


class BlogPostLink(InputError):
    """A link to a blog post: ApprovalFlow signs off pages."""


@dataclass(eq=False, repr=False)
class OtherSite(InputError):
    """A link to `host`, but the bot works with `site`."""

    host: str
    site: str


class ZeroPageId(InputError):
    """0 is no page id."""


# --- administration ------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class NotAnAdmin(NotAllowed):
    """Only admins use `/approvals <command>`."""

    command: str


@dataclass(eq=False, repr=False)
class ExtendDaysInvalid(InputError):
    """An extension by other than 1 to `most` whole days (no more than `most`: None)."""

    most: int | None = None


@dataclass(eq=False, repr=False)
class AdminReasonTooLong(InputError):
    longest: int


@dataclass(eq=False, repr=False)
class NoToken(NotFound):
    """The person has no Approval Token to `act` on: "revoke", "extend" (no active one) or
    "unlock"."""

    act: Literal["revoke", "extend", "unlock"]


@dataclass(eq=False, repr=False)
class EvidenceNotAllowed(NotAllowed):
    """Only the requester, the signers and admins get a request's evidence."""

    request_id: str


class TransitionRefused(ApprovalsError):
    """A lifecycle step of an approval request does not apply to the request as it is."""


class NotPending(TransitionRefused):
    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"the request is {status}")


class SignedBefore(TransitionRefused):
    def __init__(self, signature: object) -> None:
        self.signature = signature
        super().__init__("this person signed the request already")


class NotEligible(TransitionRefused):
    """Not a signer of any stage of the request (or its requester)."""


class StageNotOpen(TransitionRefused):
    def __init__(self, open_stage: int, wanted_stage: int) -> None:
        self.open_stage = open_stage
        self.wanted_stage = wanted_stage
        super().__init__(f"stage {wanted_stage + 1} is not open; stage {open_stage + 1} is")


class NotHolder(TransitionRefused):
    """The submit claim belongs to another attempt (or none)."""


class NotDue(TransitionRefused):
    """A job's step whose time has not come (or that was done already)."""


class ConfigError(ApprovalsError):
    """The configuration is missing or malformed; the message names every problem."""


class StoreError(ApprovalsError):
    """The store failed or did not answer."""


class SecretError(ApprovalsError):
    """A stored secret cannot be decrypted with any configured key."""


class UpstreamError(ApprovalsError):
    """An outside HTTP service failed; `outcome_unknown` when a write may have been applied
    anyway (sent, then no usable answer), so it must be checked before being tried again."""

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        self.outcome_unknown = outcome_unknown
        super().__init__(message)


class UpstreamTimeout(UpstreamError):
    """An outside HTTP service did not answer in time."""


class UpstreamUnavailable(UpstreamError):
    """An outside HTTP service refused the connection, failed, or answered nonsense."""


class RateLimited(UpstreamError):
    """An outside service kept answering 429; `retry_after` says when to try again."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ClientRejected(UpstreamError):
    """Atlassian's token endpoint refused our own client credentials (401 access_denied).

    Not a user's problem: sending people through consent again would loop forever."""


class SlackRefused(UpstreamError):
    """Slack answered a Web API call with ok: false; `error` is Slack's code, `method` the call."""

    def __init__(self, message: str, *, error: str, method: str) -> None:
        self.error = error
        self.method = method
        super().__init__(message)


class SlackGone(SlackRefused):
    """What the call named no longer exists: a message, file, modal, user or user group."""


class SlackChannelClosed(SlackRefused):
    """The channel cannot take the bot's messages: archived, not found, or the bot is not in it."""


class SlackAppRevoked(SlackRefused):
    """The bot's token no longer works: the app was uninstalled or its token revoked."""


class SlackConflict(SlackRefused):
    """A modal changed since the bot last read it (a newer click redrew it)."""
