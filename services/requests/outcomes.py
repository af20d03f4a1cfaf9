"""What happened to a request, as typed values: the services say what, handlers/ says it in words.

Each outcome carries the request as it stands after the change and the facts a sentence needs;
none carries text meant for a person. `handlers/blocks/outcomes.py` turns each into the thread
reply, the requester's DM and the note the request message keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.errors import ApprovalsError
from services.requests.model import ApprovalRequest, PageOutcome, Signature, SubmitAttempt


@dataclass(frozen=True)
class Signed:
    """A signature that leaves its stage still to sign."""

    request: ApprovalRequest
    signature: Signature


@dataclass(frozen=True)
class StageCompleted:
    """A signature that completed its stage and opened the next (`request.open_stage`)."""

    request: ApprovalRequest
    signature: Signature


@dataclass(frozen=True)
class Rejected:
    request: ApprovalRequest
    signature: Signature


@dataclass(frozen=True)
class Submitted:
    """The submit went through as `attempt.signer`. `unconfirmed` is the upstream error of a
    submit ApprovalFlow did not confirm in time but shows as done; `outcomes` are per page."""

    request: ApprovalRequest
    attempt: SubmitAttempt
    outcomes: tuple[PageOutcome, ...]
    unconfirmed: str | None = None


@dataclass(frozen=True)
class SubmitFailed:
    """The submit failed (`cause`, a refusal or an upstream failure); the request is pending
    again."""

    request: ApprovalRequest
    attempt: SubmitAttempt
    cause: ApprovalsError


@dataclass(frozen=True)
class SubmitUnknown:
    """The submit got no clear answer (`cause`); the recovery job will find out."""

    request: ApprovalRequest
    attempt: SubmitAttempt
    cause: ApprovalsError


@dataclass(frozen=True)
class SubmitInterrupted:
    """A restart cut the submit short and ApprovalFlow shows nothing submitted: pending again."""

    request: ApprovalRequest
    attempt: SubmitAttempt


@dataclass(frozen=True)
class Expired:
    request: ApprovalRequest


@dataclass(frozen=True)
class Reminded:
    request: ApprovalRequest


@dataclass(frozen=True)
class Escalated:
    request: ApprovalRequest
    stage: int


@dataclass(frozen=True)
class Reassigned:
    request: ApprovalRequest
    actor: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class ReviewChanged:
    """ApprovalFlow's review state of a submitted request moved to `state`; `final` ends
    tracking."""

    request: ApprovalRequest
    state: str
    final: bool


@dataclass(frozen=True)
class SignerDeactivated:
    """A person the request names was deactivated in Slack (`requester`: they asked for it)."""

    request: ApprovalRequest
    user: str
    requester: bool


@dataclass(frozen=True)
class ChannelClosed:
    """The request's channel was archived, deleted, or the bot removed from it (`why`)."""

    request: ApprovalRequest
    why: str


Outcome = (
    Signed
    | StageCompleted
    | Rejected
    | Submitted
    | SubmitFailed
    | SubmitUnknown
    | SubmitInterrupted
    | Expired
    | Reminded
    | Escalated
    | Reassigned
    | ReviewChanged
    | SignerDeactivated
    | ChannelClosed
)

# What a signature comes to, as `RequestService.sign` returns it (the signer's modal says it).
SignOutcome = Signed | StageCompleted | Rejected | Submitted
