"""The approval request, its signing policy and its lifecycle, as the domain sees them."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from services.approvalflow.targets import Target, TargetSnapshot
from services.errors import (
    NotDue,
    NotEligible,
    NotHolder,
    NotPending,
    SignedBefore,
    StageNotOpen,
)
from services.records import evolve

# Request ids are short and typeable (ARCHITECTURE §6): "AR-" and 4 characters from an alphabet
# without look-alikes (no 0/O, 1/I/L, 5/S, 8/B).
ID_ALPHABET = "2346790ACDEFGHJKMNPQRTUVWXYZ"
ID_LENGTH = 4


def new_request_id() -> str:
    return "AR-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def normalise_request_id(text: str) -> str | None:
    """`ar-7k3q`, `AR7K3Q` or `7K3Q` -> `AR-7K3Q`; None when it cannot be an id."""
    cleaned = text.strip().upper().removeprefix("AR").lstrip("-")
    if len(cleaned) == ID_LENGTH and all(c in ID_ALPHABET for c in cleaned):
        return f"AR-{cleaned}"
    return None


class Status(StrEnum):
    """Where a request is. Only PENDING can be signed."""

    PENDING = "pending"  # waiting for signatures
    SUBMITTING = "submitting"  # the last stage is signed; the submit call is in flight
    SUBMITTED = "submitted"  # ApprovalFlow accepted the submit; the review is tracked
    REJECTED = "rejected"  # a signer rejected it; nothing was submitted
    EXPIRED = "expired"  # its stages were not signed within REQUEST_TTL_HOURS
    CLOSED = "closed"  # tracking ended (all_approved, has_rejections, archived, stale)


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class Signer:
    """Who signs: the Slack user and the Atlassian account that acts for them."""

    slack_id: str
    atlassian_id: str
    name: str  # printed name (21 CFR 11.50)


@dataclass(frozen=True)
class Signature:
    """One verified approve or reject; never edited once recorded."""

    signer: Signer
    decision: Decision
    meaning: str  # e.g. "I approve submitting these 3 pages for review"
    comment: str
    signed_at: datetime  # UTC
    snapshot_digest: str
    stage: int = 0  # the index of the stage it was signed for


@dataclass(frozen=True)
class PageOutcome:
    """A page's result of a submit: submitted, or skipped with the reason."""

    page_id: str
    title: str | None
    submitted: bool
    reason: str | None = None


@dataclass(frozen=True)
class SubmitAttempt:
    """A claimed submit: its id (the fence), who signed, when, which pages were submittable in
    the snapshot they signed (what a check after a crash looks for), and until when it may
    run before it counts as stuck."""

    attempt_id: str
    signer: Signer
    started_at: datetime
    page_ids: tuple[str, ...]
    lease_until: datetime | None = None


@dataclass(frozen=True)
class Stage:
    """One step of a signing policy: who may sign it, how many must, and what they sign.

    No `signers` and no `groups` means anyone (but the requester, unless self-approval is
    allowed). `required` None means every named signer."""

    name: str
    meaning: str = ""  # empty: the default sentence, "I approve submitting these N pages ..."
    signers: tuple[str, ...] = ()  # Slack user ids
    groups: tuple[str, ...] = ()  # Slack user group ids
    required: int | None = 1
    escalate_after: timedelta | None = None
    escalate_to: tuple[str, ...] = ()  # Slack user ids
    escalate_groups: tuple[str, ...] = ()  # Slack user group ids

    @property
    def anyone(self) -> bool:
        return not self.signers and not self.groups

    @property
    def quorum(self) -> int:
        return len(self.signers) if self.required is None else self.required

    def names(self, user: str, member_of: frozenset[str]) -> bool:
        """Whether `user` (a member of the groups `member_of`) is one of this stage's signers."""
        return self.anyone or user in self.signers or not member_of.isdisjoint(self.groups)


@dataclass(frozen=True)
class Policy:
    """A signing policy: ordered stages, each signed before the next opens."""

    name: str
    stages: tuple[Stage, ...]
    description: str = ""


DEFAULT_POLICY_NAME = "one-signature"
_DEFAULT_DESCRIPTION = "One signature by a named reviewer, or by anyone but the requester"


def single_stage(reviewers: tuple[str, ...], groups: tuple[str, ...]) -> Policy:
    """Today's behaviour: one signature, by the reviewers named (or anyone but the requester)."""
    stage = Stage(name="Approval", signers=reviewers, groups=groups, required=1)
    return Policy(DEFAULT_POLICY_NAME, (stage,), _DEFAULT_DESCRIPTION)


class Index(StrEnum):
    """The job indexes a stored request is listed in, each by the time it is due there."""

    EXPIRY = "expiry"  # pending (or submitting) requests by expires_at
    REMIND = "remind"  # the reminder, once
    SUBMITTING = "submitting"  # a submit in flight by the end of its lease
    TRACKING = "tracking"  # a submitted request by its next poll
    ESCALATE = "escalate"  # the open stage by when it escalates


@dataclass(frozen=True)
class ApprovalRequest:
    """A sign-off request for one target, posted in one channel message.

    Its lifecycle is the methods below: each returns the request as it is after the step, or
    raises a `TransitionRefused` saying why the step does not apply. The store saves the
    result with compare-and-set on `version`, so a step is applied to the state it checked."""

    id: str
    target: Target
    title: str
    requester: str  # Slack user id
    reviewers: tuple[str, ...]  # Slack user ids named in the command (the default policy)
    reviewer_groups: tuple[str, ...]  # Slack user group (subteam) ids named in the command
    channel: str
    created_at: datetime
    expires_at: datetime
    snapshot: TargetSnapshot  # as preflighted when the request was made
    status: Status = Status.PENDING
    message_ts: str | None = None
    summary: str | None = None
    reference_url: str | None = None
    signatures: tuple[Signature, ...] = ()
    outcomes: tuple[PageOutcome, ...] = ()  # of the submit
    last_error: str | None = None  # a failed submit, shown on the message
    rollup_state: str | None = None  # tracked after the submit
    reminded: bool = False
    source: str = "command"  # or "watch:<space id>"
    extra: dict[str, str] = field(default_factory=dict)
    policy: Policy | None = None  # None: one signature by `reviewers` (see single_stage)
    remind_at: datetime | None = None
    attempt: SubmitAttempt | None = None  # the submit claim, while SUBMITTING
    poller: str | None = None  # whose token polls the review (the signer who submitted)
    poll_interval: float = 0.0  # seconds, backing off while nothing changes
    next_poll_at: datetime | None = None
    stage_opened_at: datetime | None = None  # when the open stage opened (None: created_at)
    escalated: tuple[int, ...] = ()  # stages whose escalation was sent
    version: int = 0  # the store's compare-and-set counter; 0 before it is stored

    def with_changes(self, **changes: object) -> ApprovalRequest:
        return evolve(self, **changes)

    # -- reading ----------------------------------------------------------------------------

    @property
    def effective_policy(self) -> Policy:
        return self.policy or single_stage(self.reviewers, self.reviewer_groups)

    @property
    def stages(self) -> tuple[Stage, ...]:
        return self.effective_policy.stages

    def approvals_in(self, stage: int) -> tuple[Signature, ...]:
        return tuple(
            s for s in self.signatures if s.stage == stage and s.decision is Decision.APPROVE
        )

    @property
    def open_stage(self) -> int | None:
        """The first stage short of its quorum; None once every stage is signed."""
        for index, stage in enumerate(self.stages):
            if len(self.approvals_in(index)) < stage.quorum:
                return index
        return None

    def signature_of(self, user: str) -> Signature | None:
        return next((s for s in self.signatures if s.signer.slack_id == user), None)

    def may_still_sign(self, user: str, allow_self: bool) -> bool:
        """Whether `user` is still free to sign (whichever stage names them): one signature per
        person per request, and never the requester's own unless self-approval is allowed."""
        return self.signature_of(user) is None and (allow_self or user != self.requester)

    def stage_of(self, user: str, member_of: frozenset[str], allow_self: bool) -> int | None:
        """The stage `user` would sign now: the open one if they are among its signers, else
        the first later one that names them; None if no stage does (or they may not sign)."""
        if user == self.requester and not allow_self:
            return None
        open_stage = self.open_stage
        if open_stage is None:
            return None
        stages = self.stages
        for index in range(open_stage, len(stages)):
            stage = stages[index]
            if index > open_stage and stage.anyone:
                continue  # "anyone" later on is not a reason to tell them to wait
            if stage.names(user, member_of):
                return index
        return None

    def opened_at(self) -> datetime:
        return self.stage_opened_at or self.created_at

    def escalates_at(self) -> datetime | None:
        stage_index = self.open_stage
        if self.status is not Status.PENDING or stage_index is None:
            return None
        after = self.stages[stage_index].escalate_after
        if after is None or stage_index in self.escalated:
            return None
        return self.opened_at() + after

    def schedule(self) -> dict[Index, datetime | None]:
        """When each job must next look at this request (None: it is not in that index)."""
        open_ = self.status in (Status.PENDING, Status.SUBMITTING)
        return {
            Index.EXPIRY: self.expires_at if open_ else None,
            Index.REMIND: (
                self.remind_at if self.status is Status.PENDING and not self.reminded else None
            ),
            Index.SUBMITTING: (
                self.attempt.lease_until
                if self.status is Status.SUBMITTING and self.attempt is not None
                else None
            ),
            Index.TRACKING: self.next_poll_at if self.status is Status.SUBMITTED else None,
            Index.ESCALATE: self.escalates_at(),
        }

    # -- signing -----------------------------------------------------------------------------

    def _check_signable(self, user: str) -> None:
        earlier = self.signature_of(user)
        if earlier is not None:
            raise SignedBefore(earlier)
        if self.status is not Status.PENDING:
            raise NotPending(self.status.value)

    def _check_stage(
        self, signature: Signature, member_of: frozenset[str], allow_self: bool
    ) -> None:
        user = signature.signer.slack_id
        wanted = self.stage_of(user, member_of, allow_self)
        if wanted is None:
            raise NotEligible(f"{user} signs no stage of {self.id}")
        open_stage = self.open_stage
        assert open_stage is not None  # stage_of found one
        if wanted != open_stage:
            raise StageNotOpen(open_stage, wanted)
        if signature.stage != open_stage:
            # Signed for a stage that has completed meanwhile: its meaning was that stage's.
            raise StageNotOpen(open_stage, signature.stage)

    def sign(
        self, signature: Signature, member_of: frozenset[str], allow_self: bool
    ) -> ApprovalRequest:
        """Record an approval for the open stage; a stage it completes opens the next one."""
        if signature.decision is not Decision.APPROVE:
            raise ValueError("sign() records approvals; a rejection is reject()")
        self._check_signable(signature.signer.slack_id)
        self._check_stage(signature, member_of, allow_self)
        signed = evolve(self, signatures=(*self.signatures, signature), last_error=None)
        if signed.open_stage != self.open_stage:
            signed = evolve(signed, stage_opened_at=signature.signed_at)
        return signed

    def reject(
        self, signature: Signature, member_of: frozenset[str], allow_self: bool
    ) -> ApprovalRequest:
        """A signer of the open stage, or of one still to come, rejects: the request closes
        with the reason (any rejection stops the chain)."""
        if signature.decision is not Decision.REJECT:
            raise ValueError("reject() records rejections")
        user = signature.signer.slack_id
        self._check_signable(user)
        wanted = self.stage_of(user, member_of, allow_self)
        if wanted is None:
            raise NotEligible(f"{user} signs no stage of {self.id}")
        if signature.stage != wanted:
            raise StageNotOpen(wanted, signature.stage)
        return evolve(
            self,
            status=Status.REJECTED,
            signatures=(*self.signatures, signature),
            last_error=None,
        )

    @property
    def ready_to_submit(self) -> bool:
        return self.status is Status.PENDING and self.open_stage is None

    def begin_submit(self, attempt: SubmitAttempt) -> ApprovalRequest:
        """Every stage is signed: claim the submit for `attempt` (made by the last signer)."""
        if self.status is not Status.PENDING:
            raise NotPending(self.status.value)
        if self.open_stage is not None:
            raise NotDue(f"stage {self.open_stage + 1} of {self.id} is not signed yet")
        return evolve(self, status=Status.SUBMITTING, attempt=attempt, last_error=None)

    # -- the submit ------------------------------------------------------------------------

    def _check_holder(self, attempt_id: str) -> SubmitAttempt:
        if self.status is not Status.SUBMITTING or self.attempt is None:
            raise NotHolder(f"{self.id} is {self.status.value}")
        if self.attempt.attempt_id != attempt_id:
            raise NotHolder(f"the submit of {self.id} was taken over")
        return self.attempt

    def finish_submit(
        self,
        attempt_id: str,
        outcomes: Sequence[PageOutcome],
        *,
        poller: str,
        poll_at: datetime,
        interval_seconds: float,
        note: str | None = None,
    ) -> ApprovalRequest:
        """SUBMITTING -> SUBMITTED with the pages' outcomes; the review is tracked from
        `poll_at`. Only the attempt that holds the claim may."""
        self._check_holder(attempt_id)
        return evolve(
            self,
            status=Status.SUBMITTED,
            outcomes=tuple(outcomes),
            attempt=None,
            poller=poller,
            poll_interval=interval_seconds,
            next_poll_at=poll_at,
            last_error=note,
        )

    def fail_submit(self, attempt_id: str, error: str) -> ApprovalRequest:
        """SUBMITTING -> PENDING: the submit did nothing, so its signature goes (the audit
        trail keeps it) and its signer may sign again once the cause is fixed."""
        attempt = self._check_holder(attempt_id)
        return evolve(
            self,
            status=Status.PENDING,
            attempt=None,
            signatures=tuple(s for s in self.signatures if s.signer != attempt.signer),
            last_error=error or "the submit failed",
        )

    def note_error(self, attempt_id: str, error: str) -> ApprovalRequest:
        """The submit's outcome is not known yet: say so on the message."""
        self._check_holder(attempt_id)
        return evolve(self, last_error=error or "unknown")

    def renew_lease(self, attempt_id: str, lease_until: datetime) -> ApprovalRequest:
        """The submit's holder is alive and still at it: its claim runs until `lease_until`."""
        attempt = self._check_holder(attempt_id)
        return evolve(self, attempt=evolve(attempt, lease_until=lease_until))

    def reclaim(self, now: datetime, attempt_id: str, lease_until: datetime) -> ApprovalRequest:
        """Take over a submit whose lease ran out (its process died) under a new attempt id;
        the old holder's finish or fail is refused from now on."""
        if self.status is not Status.SUBMITTING or self.attempt is None:
            raise NotPending(self.status.value)
        lease = self.attempt.lease_until
        if lease is not None and lease > now:
            raise NotDue(f"the submit of {self.id} is still within its lease")
        attempt = evolve(self.attempt, attempt_id=attempt_id, lease_until=lease_until)
        return evolve(self, attempt=attempt)

    # -- the jobs ----------------------------------------------------------------------------

    def expire(self, now: datetime) -> ApprovalRequest:
        if self.status is not Status.PENDING:
            raise NotPending(self.status.value)
        if self.expires_at > now:
            raise NotDue(f"{self.id} expires later")
        return evolve(self, status=Status.EXPIRED)

    def remind(self, now: datetime) -> ApprovalRequest:
        """The one reminder, once it is due."""
        if self.status is not Status.PENDING:
            raise NotPending(self.status.value)
        if self.reminded or self.remind_at is None or self.remind_at > now:
            raise NotDue(f"no reminder of {self.id} is due")
        return evolve(self, reminded=True)

    def escalate(self, now: datetime) -> ApprovalRequest:
        """The open stage waited longer than its `escalate_after`: escalated, once."""
        due = self.escalates_at()
        if due is None or due > now:
            raise NotDue(f"no escalation of {self.id} is due")
        stage = self.open_stage
        assert stage is not None  # escalates_at found one
        return evolve(self, escalated=(*self.escalated, stage))

    def claim_poll(self, now: datetime, until: datetime) -> ApprovalRequest:
        """Take a due tracking poll: the next one moves to `until`, so a poller that dies
        leaves the work to come back then."""
        if self.status is not Status.SUBMITTED:
            raise NotPending(self.status.value)
        if self.next_poll_at is None or self.next_poll_at > now:
            raise NotDue(f"{self.id} is not due for a poll")
        return evolve(self, next_poll_at=until)

    def track(
        self, rollup_state: str | None, interval_seconds: float, next_poll_at: datetime | None
    ) -> ApprovalRequest:
        """Record the review state; poll again at `next_poll_at`, or with None stop: CLOSED."""
        if self.status is not Status.SUBMITTED:
            raise NotPending(self.status.value)
        return evolve(
            self,
            rollup_state=rollup_state,
            poll_interval=interval_seconds,
            next_poll_at=next_poll_at,
            status=Status.SUBMITTED if next_poll_at is not None else Status.CLOSED,
        )

    # -- people ------------------------------------------------------------------------------

    def reassign(self, old: str, new: str) -> ApprovalRequest:
        """A named signer who cannot sign (away, left) is replaced by another person in every
        stage that is not signed yet. Nobody signs in another's name: `new` signs as themself."""
        if self.status is not Status.PENDING:
            raise NotPending(self.status.value)
        if self.signature_of(old) is not None:
            raise SignedBefore(self.signature_of(old))
        if self.signature_of(new) is not None:
            raise SignedBefore(self.signature_of(new))
        if new == self.requester:
            raise NotEligible("the requester cannot sign their own request")
        first = self.open_stage or 0
        stages = list(self.stages)
        changed = False
        for index in range(first, len(stages)):
            stage = stages[index]
            if old in stage.signers:
                signers = tuple(new if s == old else s for s in stage.signers)
                stages[index] = evolve(stage, signers=tuple(dict.fromkeys(signers)))
                changed = True
        if not changed:
            raise NotEligible(f"{old} is not a named signer of a stage still open")
        policy = evolve(self.effective_policy, stages=tuple(stages))
        reviewers = tuple(dict.fromkeys(new if r == old else r for r in self.reviewers))
        return evolve(self, policy=policy, reviewers=reviewers)


# A rejection reason's length (ApprovalFlow's own rule for rejection comments, §3.3).
REASON_MIN, REASON_MAX = 20, 280
COMMENT_MAX = 280  # an approval's optional comment, as long as a reason may be


def signature_meaning(decision: Decision, pages: int) -> str:
    """The meaning a signature carries (21 CFR 11.50): what the signer approves or rejects."""
    verb = "approve" if decision is Decision.APPROVE else "reject"
    what = "this page" if pages == 1 else f"these {pages} pages"
    return f"I {verb} submitting {what} for review"
