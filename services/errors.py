"""The one error tree of approvals-bot; foreign exceptions are mapped into it at their boundary.

    ApprovalsError                  base of every error we raise on purpose
    ├── UserError                   an expected failure; its message is shown to the user as is
    │   ├── InputError              malformed input: bad subcommand, target, code format ...
    │   │   ├── CodeFormatError     an Approval Token code that is not 6 digits (not an attempt)
    │   │   └── ReasonInvalid       a rejection reason missing or not 20-280 characters
    │   ├── NotAllowed              the caller may not do this (not an admin, not a reviewer ...)
    │   ├── NotFound                the thing named does not exist (or no longer does)
    │   ├── TokenError              the Approval Token cannot sign now, or the code was refused
    │   │   ├── TokenNotEnrolled    no token: run /approvals enroll
    │   │   ├── TokenPending        enrolled but not yet confirmed with a code
    │   │   ├── NoPendingEnrolment  a confirmation code came with no enrolment waiting for it
    │   │   ├── TokenExpired        past its validity (.expired_at): enrol again to renew
    │   │   ├── TokenRevoked        revoked (lost device, admin reset): enrol again
    │   │   ├── TokenLocked         too many wrong codes; locked until .until
    │   │   ├── WrongCode           the code does not match; .tries_left before the lock
    │   │   └── CodeReused          the code's time step was already used: wait for the next code
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
    │   │   ├── NothingToSubmit     preflight found nothing submittable (reasons listed)
    │   │   ├── RequestClosed       no longer pending: submitted, rejected, expired, closed
    │   │   ├── AlreadySigned       this person signed already, or a submit is under way
    │   │   └── SnapshotChanged     pages changed since the form opened: re-confirm
    │   ├── ApprovalFlowRefused     ApprovalFlow said no for a reason the user or an admin can fix
    │   │   ├── RequestRejected     400 (or 409/422): the server's own error text (.server_error)
    │   │   ├── LicenceInactive     403: the ApprovalFlow licence is not active on the site
    │   │   └── AppApisDisabled     403 from the gateway: App REST APIs are not enabled
    │   └── ConfluenceRefused       Confluence refused a read for a reason a person can act on
    ├── TransitionRefused           a request's lifecycle step does not apply to it as it is
    │   │                           (services/requests/model.py); the service says it to the
    │   │                           person as a RequestError, a job just skips the request
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

Every message a `UserError` carries is written for the person who will read it in Slack: it
says what happened and what to do next, and never holds a secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for a type: importing services.approvalflow here would be circular
    from services.approvalflow.targets import TargetSnapshot


class ApprovalsError(Exception):
    """Base of every error approvals-bot raises on purpose."""


class UserError(ApprovalsError):
    """An expected business failure whose message the user sees as is."""


class InputError(UserError):
    """The user's input is malformed; the message names the exact problem."""


class NotAllowed(UserError):
    """The caller is not allowed to do this."""


class NotFound(UserError):
    """The thing the user named does not exist, or no longer does."""


def _utc(when: datetime) -> str:
    """A time as people read it in a message: minutes, UTC, unambiguous."""
    return when.strftime("%Y-%m-%d %H:%M UTC")


class CodeFormatError(InputError):
    """The Approval Token code is not exactly 6 digits; this never counts as a failed attempt."""

    def __init__(self) -> None:
        # Never echo the input: it may be a code, or something pasted by mistake.
        super().__init__(
            "A code is the 6 digits your authenticator app shows for ApprovalFlow "
            "(spaces are fine). Type the code currently shown."
        )


class TokenError(UserError):
    """The Approval Token cannot be used now, or its code was refused; says what to do next."""


class TokenNotEnrolled(TokenError):
    """The user has no Approval Token."""


class TokenPending(TokenError):
    """The Approval Token is enrolled but not yet confirmed with a code."""


class NoPendingEnrolment(TokenError):
    """A confirmation code arrived but no enrolment is waiting for one."""


class TokenExpired(TokenError):
    """The Approval Token is past its validity."""

    def __init__(self, expired_at: datetime) -> None:
        self.expired_at = expired_at
        super().__init__(
            f"Your Approval Token expired on {_utc(expired_at)}. Run /approvals enroll to renew it."
        )


class TokenRevoked(TokenError):
    """The Approval Token was revoked (reported lost, or reset by an admin)."""

    def __init__(self, revoked_at: datetime | None) -> None:
        self.revoked_at = revoked_at
        when = f" on {_utc(revoked_at)}" if revoked_at is not None else ""
        super().__init__(
            f"Your Approval Token was revoked{when}. Run /approvals enroll to set up a new one."
        )


class TokenLocked(TokenError):
    """Too many wrong codes: signing is locked until `until`."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        # Round up so "try again after that" is never a minute too early.
        shown = until + timedelta(seconds=59, microseconds=999_999)
        super().__init__(
            f"Too many wrong codes: your Approval Token is locked until {_utc(shown)}. "
            "Try again after that, or ask an admin to unlock it."
        )


class WrongCode(TokenError):
    """The code does not match; `tries_left` more wrong codes lock the token."""

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        tries = "1 try" if tries_left == 1 else f"{tries_left} tries"
        super().__init__(
            f"That code is not right. Check the ApprovalFlow entry in your authenticator app "
            f"and type the current code ({tries} left before your token is locked)."
        )


class CodeReused(TokenError):
    """The code's time step was already accepted once for this user."""

    def __init__(self) -> None:
        super().__init__(
            "That code was already used. Wait for the next code in your authenticator app "
            "(a new one appears every 30 seconds) and enter it."
        )


class LinkError(UserError):
    """The user's Atlassian link cannot act for them; the message says how to fix it."""


class NotLinked(LinkError):
    """The user has not linked an Atlassian account."""

    def __init__(self) -> None:
        super().__init__(
            "You have not linked your Atlassian account yet. Run /approvals connect first."
        )


class LinkBroken(LinkError):
    """The stored grant no longer works (revoked, expired, or its refresh failed)."""

    def __init__(self) -> None:
        super().__init__(
            "Your Atlassian link has stopped working (it was revoked or could not be refreshed). "
            "Run /approvals connect to link your account again."
        )


class MissingScope(LinkError):
    """The grant lacks scopes an action needs."""

    def __init__(self, scopes: list[str]) -> None:
        self.scopes = scopes
        super().__init__(
            f"Your Atlassian link is missing the permission {', '.join(scopes)}. "
            "Run /approvals connect and allow every permission asked for."
        )


class LinkRefused(LinkError):
    """Atlassian refused an authorization code or a refresh token; `error` is its OAuth code."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(
            "Atlassian refused the sign-in (it expired or was already used). "
            "Run /approvals connect to link your account again."
        )


class LinkAttemptFailed(LinkError):
    """A connect attempt ended without a link; `reason` names it on the callback page."""

    reason = "failed"


class BadCallback(LinkAttemptFailed):
    """The callback came with missing, repeated or oversized parameters."""

    reason = "bad_request"

    def __init__(self, problem: str) -> None:
        self.problem = problem  # for the log; never shown, it may echo what was sent
        super().__init__(
            "That sign-in answer was incomplete or malformed, so nothing was linked. "
            "Run /approvals connect and follow the new button."
        )


class LinkStateInvalid(LinkAttemptFailed):
    """The state is unknown, was already used, or is older than its 10 minutes."""

    reason = "state_invalid"

    def __init__(self) -> None:
        super().__init__(
            "This sign-in link is unknown, was already used, or is older than 10 minutes, "
            "so nothing was linked. Run /approvals connect for a new one."
        )


class ConsentDenied(LinkAttemptFailed):
    """The person chose Deny on Atlassian's consent screen."""

    reason = "denied"

    def __init__(self) -> None:
        super().__init__(
            "You did not allow access, so nothing was linked. Run /approvals connect again "
            "when you are ready, and allow access."
        )


class AuthorizeFailed(LinkAttemptFailed):
    """Atlassian sent an error other than access_denied back to the callback."""

    reason = "authorize_failed"

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(
            f"Atlassian did not authorize the link ({error}), so nothing was linked. "
            "Run /approvals connect to try again; if it keeps failing, tell your Slack admin."
        )


class SiteNotGranted(LinkAttemptFailed):
    """The grant does not include the configured Confluence site."""

    reason = "wrong_site"

    def __init__(self, site: str) -> None:
        self.site = site
        super().__init__(
            f"The access you granted does not include {site}, so nothing was linked. "
            f"Run /approvals connect and choose {site} on Atlassian's consent screen."
        )


class EmailMismatch(LinkAttemptFailed):
    """REQUIRE_EMAIL_MATCH: the Slack and Atlassian emails differ, or one of them is hidden."""

    reason = "email_mismatch"

    def __init__(self) -> None:
        # Never name either address: whoever consented may not be the Slack user who asked.
        super().__init__(
            "The Atlassian account you allowed does not have the email address of your Slack "
            "profile, so nothing was linked. Sign in to Atlassian as yourself and run "
            "/approvals connect again."
        )


class AccountTaken(LinkAttemptFailed):
    """The Atlassian account is already linked to another Slack user."""

    reason = "account_taken"

    def __init__(self) -> None:
        super().__init__(
            "That Atlassian account is already linked to another Slack user, so nothing was "
            "linked. Each person links their own account; the other user can run "
            "/approvals disconnect."
        )


class ApprovalFlowRefused(UserError):
    """ApprovalFlow refused the call for a reason a person can act on."""


class RequestRejected(ApprovalFlowRefused):
    """ApprovalFlow answered 400; the message carries its own error text (`server_error`)."""

    def __init__(self, message: str, server_error: str = "") -> None:
        self.server_error = server_error
        super().__init__(message)


class LicenceInactive(ApprovalFlowRefused):
    """ApprovalFlow's licence is not active on the site."""


class AppApisDisabled(ApprovalFlowRefused):
    """The Atlassian gateway refuses app REST API calls for ApprovalFlow."""


class ConfluenceRefused(UserError):
    """Confluence refused a read (400, or a 403 that is not about scopes); its text is shown."""


class RequestError(UserError):
    """An approval request cannot be signed as asked; the message says why and what next."""


class NothingToSubmit(RequestError):
    """Preflight found nothing submittable; the message lists the blocked pages and reasons."""


class RequestClosed(RequestError):
    """The request is no longer pending (submitted, rejected, expired or closed)."""


class AlreadySigned(RequestError):
    """This person already signed this request (or a submit is already under way)."""


class ReasonInvalid(InputError):
    """A rejection reason is missing or not 20-280 characters."""


class SnapshotChanged(RequestError):
    """The pages changed since the form was opened; the signer must re-confirm.

    `snapshot` is the target as it stands now (taken fresh with the signer's token), for the
    form to show again; None when the raiser had none."""

    def __init__(self, message: str, snapshot: TargetSnapshot | None = None) -> None:
        self.snapshot = snapshot
        super().__init__(message)


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
