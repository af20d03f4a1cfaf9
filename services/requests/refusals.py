"""Which refusal a refused step of a request gets: facts only (handlers/blocks/refusals.py words
each)."""

from __future__ import annotations

from datetime import datetime

from services.approvalflow.endpoints import PRODUCT_SCOPE
from services.errors import (
    BeingSubmitted,
    Closed,
    MissingScope,
    NobodyLeftToSign,
    NoLongerSignable,
    NotANamedSigner,
    NotASigner,
    NotEligible,
    NotPending,
    NotYourStageYet,
    RequesterCannotSign,
    RequestError,
    SignedAlready,
    SignedBefore,
    SignerSignedAlready,
    StageFilled,
    StageNotOpen,
    TransitionRefused,
    UserError,
)
from services.requests.model import ApprovalRequest, Status


def closed(request: ApprovalRequest, now: datetime) -> RequestError:
    """A request past signing: its submit under way, or submitted, rejected, expired."""
    if request.status is Status.SUBMITTING:
        return BeingSubmitted(request)
    return Closed(request, now)


def stage_not_open(request: ApprovalRequest, wanted: int) -> RequestError:
    """A signer of stage `wanted`, which is not the open one."""
    open_stage = request.open_stage
    if open_stage is None:
        return closed(request, request.created_at)
    if wanted < open_stage:
        return StageFilled(request, wanted)
    return NotYourStageYet(request, wanted)


def refusal(
    request: ApprovalRequest, user: str, refused: TransitionRefused, now: datetime
) -> UserError:
    """What a signer whose step the request refused is told (often: someone was quicker)."""
    if isinstance(refused, SignedBefore):
        signed = request.signature_of(user)
        if signed is not None:
            return SignedAlready(request, signed)
    if isinstance(refused, NotPending) or request.status is not Status.PENDING:
        return closed(request, now)
    if isinstance(refused, StageNotOpen):
        return stage_not_open(request, refused.wanted_stage)
    if isinstance(refused, NotEligible):
        return NotASigner(request)
    return NoLongerSignable(request)


def reassign_refused(
    request: ApprovalRequest, old: str, new: str, refused: TransitionRefused
) -> RequestError:
    if isinstance(refused, NotPending):
        return NobodyLeftToSign(request)
    if isinstance(refused, SignedBefore):
        return SignerSignedAlready(request, old if request.signature_of(old) is not None else new)
    if isinstance(refused, NotEligible) and new == request.requester:
        return RequesterCannotSign(request, new)
    return NotANamedSigner(request, old)


def missing_scope(missing: frozenset[str]) -> MissingScope:
    """The scopes a link lacks, the product scope first (it is the one to fix in the app)."""
    return MissingScope(sorted(missing, key=lambda s: (s != PRODUCT_SCOPE, s)))
