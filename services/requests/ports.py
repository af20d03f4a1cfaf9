"""What the requests service needs from outside, and the surface it offers the Slack layer.

`RequestService` is the contract between services/requests/service.py (its implementation) and
handlers/ (which only parse, call one method, and render). `Publisher` is built in bot/wiring.py
over handlers/' renderer: the service calls it with a typed outcome after every state change,
whoever caused it (a click or a job), so the channel message, its thread and the requester's DM
always tell the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.approvalflow.targets import TargetSnapshot
from services.confluence.ports import ConfluenceSpace
from services.requests.model import ApprovalRequest, Decision
from services.requests.outcomes import Outcome, SignOutcome
from services.requests.policies import PolicyBook


@dataclass(frozen=True)
class LinkedIdentity:
    """The Atlassian account a Slack user linked."""

    account_id: str
    name: str
    email: str | None
    scopes: frozenset[str]


class Identities(Protocol):
    """Looks up a Slack user's link (implemented by the linking service)."""

    async def slack_user_of(self, account_id: str) -> str | None:
        """The Slack user who linked this Atlassian account, if anyone did."""
        ...

    async def identity(self, user_id: str) -> LinkedIdentity:
        """Raises NotLinked or LinkBroken."""
        ...


class SignatureCodes(Protocol):
    """The Approval Token check a signature runs (services/approval_token `ApprovalTokens`)."""

    async def verify_for_signature(self, user: str, code: object) -> object:
        """Raises a TokenError or CodeFormatError saying what to do next."""
        ...


class GroupMembers(Protocol):
    """Members of a Slack user group (usergroups.users.list), for `@group` reviewers."""

    async def members(self, group_id: str) -> frozenset[str]: ...


class Publisher(Protocol):
    """Shows a request and what happens to it in Slack; implemented with handlers/' renderer.

    The services hand it typed outcomes and never a sentence: the words are all in
    handlers/blocks/outcomes.py."""

    async def publish(self, request: ApprovalRequest) -> str:
        """Post the request's channel message, or rewrite it in place if it has one; returns ts."""
        ...

    async def report(self, outcome: Outcome) -> None:
        """Tell what happened: replies in the request message's thread, a DM to the requester,
        as the outcome calls for."""
        ...

    def kept_note(self, outcome: Outcome) -> str:
        """The note the request message keeps for an outcome (a failed or unconfirmed submit),
        stored with the request so every later rewrite shows it."""
        ...


@dataclass(frozen=True)
class SigningForm:
    """What the signing modal shows: the fresh snapshot and the meaning of the signature."""

    request: ApprovalRequest
    decision: Decision
    snapshot: TargetSnapshot  # taken fresh, with the signer's own token
    meaning: str  # "I approve submitting these 3 pages for review"
    changed_since_request: bool  # pages were edited since the request was made
    stage: int = 0  # the stage this signature is for (its meaning is `meaning`)
    changes: tuple[PageChange, ...] = ()  # what changed, page by page


@dataclass(frozen=True)
class PageChange:
    """A page whose current version is newer than the one it is compared with: the version
    ApprovalFlow last approved, or else the one the request was made at."""

    page_id: str
    since: int
    current: int
    edited_at: datetime | None  # when the current version was made (UTC)
    edited_by: str | None  # its author's Atlassian account id
    editor: str | None = None  # the Slack user who linked that account, if anyone did


@dataclass(frozen=True)
class TrackingChange:
    request: ApprovalRequest
    previous: str | None
    current: str


class RequestService(Protocol):
    """The requests feature as the Slack layer uses it. Every method raises UserError subclasses
    with messages that say what to do next; nothing else is for the user."""

    async def create(
        self,
        requester: str,
        target_text: str,
        reviewers: tuple[str, ...],
        reviewer_groups: tuple[str, ...],
        channel: str,
        policy: str | None = None,
    ) -> ApprovalRequest:
        """Preflight with the requester's token and publish, signed by the named policy (or
        the named reviewers, or the default policy). Raises InputError (bad target, unknown
        policy), NothingToSubmit (an explanation of why, for an ephemeral reply), link errors."""
        ...

    def policies(self) -> PolicyBook:
        """The signing policies as the bot understood them."""
        ...

    async def get(self, request_id: str) -> ApprovalRequest:
        """Raises NotFound."""
        ...

    async def open_for_signing(self, request_id: str, user: str, decision: Decision) -> SigningForm:
        """Checks that can be made before the modal (pending, reviewer, not self, linked) and a
        fresh snapshot with the signer's token."""
        ...

    async def sign(
        self,
        request_id: str,
        user: str,
        decision: Decision,
        code: str,
        comment: str,
        confirmed_digest: str,
        *,
        confirmed_stage: int | None = None,
    ) -> SignOutcome:
        """All checks of ARCHITECTURE §6 on the server, then record the signature and (approve)
        submit with the signer's own token, exactly once; returns what the signature came to.
        Raises: token errors (for the code field), ReasonInvalid (for the reason field),
        SnapshotChanged (re-confirm), AlreadySigned, RequestClosed, NotAllowed, link errors,
        Upstream errors (the request stays pending)."""
        ...

    async def pending_for(self, user: str) -> list[ApprovalRequest]:
        """Requests this user may sign now."""
        ...

    async def reassign(
        self, request_id: str, actor: str, old: str, new: str, reason: str, *, admin: bool
    ) -> ApprovalRequest:
        """Replace a named signer; the caller says whether `actor` is an admin."""
        ...

    async def escalate_due(self, now: datetime) -> list[ApprovalRequest]: ...

    async def expire_due(self, now: datetime) -> list[ApprovalRequest]: ...

    async def remind_due(self, now: datetime) -> list[ApprovalRequest]: ...

    async def track_due(self, now: datetime) -> list[TrackingChange]: ...

    async def watch(
        self, admin: str, space: str, channel: str, policy: str | None = None
    ) -> ConfluenceSpace:
        """Watch a space named by key or id, posting with `policy` (None: the default); the
        space as Confluence names it."""
        ...

    async def unwatch(self, admin: str, space: str) -> ConfluenceSpace: ...

    async def poll_watched(self, now: datetime) -> list[ApprovalRequest]:
        """Post a request for each new open change set in each watched space, each once."""
        ...
