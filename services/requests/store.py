"""The `RequestStore` port: requests, their signatures and the jobs' indexes, each change atomic.

The Redis adapter is bot/stores/requests.py, the in-memory fake tests/fakes/request_store.py;
tests/contract/test_request_store.py holds both to the rules below.

Exactly once. Every transition is one atomic step that checks the state it starts from:

    PENDING --record_rejection--> REJECTED            (the signature is written in the same step)
    PENDING --begin_approval----> SUBMITTING          (the signature and the submit attempt too)
    SUBMITTING --finish_submit--> SUBMITTED           (only by the attempt that holds the claim)
    SUBMITTING --fail_submit----> PENDING             (only by that attempt; the signature goes)
    SUBMITTING --reclaim_submit-> SUBMITTING          (a new attempt id fences the old holder)
    PENDING --expire------------> EXPIRED             (only once expires_at has passed)
    SUBMITTED --update_tracking-> CLOSED              (when the review ends)

A person's signature on a request is one record, written once: a second `begin_approval` or
`record_rejection` by the same person answers SIGNED, by anyone once the request has left
PENDING answers CLOSED. The submit is claimed by the same step that records the approval, so
however many clicks, retries, modals or processes race, one attempt submits.

A failed submit discards the failed attempt's signature from the request (it had no effect, so
the message must not show it, and its signer may sign again once the cause is fixed); the audit
trail keeps it, with the failure, as the permanent record.

`open_signing` also holds a short per-(request, person) signing slot, so a second modal of the
same person submitted while the first is being checked is told so instead of burning a code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from services.requests.model import ApprovalRequest, PageOutcome, Signature, Signer


class Claim(StrEnum):
    """What an attempt to sign found."""

    OK = "ok"  # done (the slot is held, or the signature is recorded)
    MISSING = "missing"  # no such request
    SIGNED = "signed"  # this person signed this request already
    CLOSED = "closed"  # the request is not pending (its status says what it is)
    BUSY = "busy"  # this person is signing this request in another window right now


@dataclass(frozen=True)
class Opening:
    """`open_signing`'s answer: the claim and the request as it was read (None if missing)."""

    claim: Claim
    request: ApprovalRequest | None


@dataclass(frozen=True)
class SubmitAttempt:
    """A claimed submit: its id (the fence), who signed, when, and which pages were submittable
    in the snapshot they signed (what a check after a crash looks for)."""

    attempt_id: str
    signer: Signer
    started_at: datetime
    page_ids: tuple[str, ...]


@dataclass(frozen=True)
class Tracked:
    """A submitted request due for a poll: whose token polls, and the current interval."""

    request: ApprovalRequest
    poller: str  # Slack user id: the signer who submitted
    interval_seconds: float


@dataclass(frozen=True)
class Watch:
    """A watched space: new open change sets there become requests in `channel`."""

    space_id: str
    admin: str  # Slack user id: the polling identity and the requester of what it posts
    channel: str
    since: datetime


class RequestStore(Protocol):
    """Approval requests shared by every process."""

    async def create(self, request: ApprovalRequest, remind_at: datetime | None) -> bool:
        """Store a new PENDING request and index it for expiry (and the reminder); False when
        the id is taken (the caller draws another)."""
        ...

    async def get(self, request_id: str) -> ApprovalRequest | None: ...

    async def get_many(self, request_ids: Sequence[str]) -> list[ApprovalRequest]:
        """The requests that exist, in the order asked; one round trip."""
        ...

    async def set_message(self, request_id: str, ts: str) -> None:
        """Remember the channel message's ts."""
        ...

    async def open_signing(
        self, request_id: str, user: str, now: datetime, hold_until: datetime
    ) -> Opening:
        """Read the request and, if `user` has not signed it and it is PENDING and nobody holds
        `user`'s slot on it, take that slot until `hold_until`. One round trip."""
        ...

    async def release_signing(self, request_id: str, user: str) -> None:
        """Give the slot back (a check failed; the person may try again at once)."""
        ...

    async def begin_approval(
        self, request_id: str, signature: Signature, attempt: SubmitAttempt, lease_until: datetime
    ) -> Claim:
        """PENDING -> SUBMITTING: record the approval and claim the submit for `attempt`, which
        counts as stuck after `lease_until`. Releases the signer's slot."""
        ...

    async def record_rejection(self, request_id: str, signature: Signature) -> Claim:
        """PENDING -> REJECTED with the rejection recorded. Releases the signer's slot."""
        ...

    async def finish_submit(
        self,
        request_id: str,
        attempt_id: str,
        outcomes: Sequence[PageOutcome],
        *,
        poller: str,
        poll_at: datetime,
        interval_seconds: float,
        note: str | None = None,
    ) -> bool:
        """SUBMITTING -> SUBMITTED with the outcomes, tracked from `poll_at`; `note` becomes
        last_error (None clears it). False unless `attempt_id` holds the claim."""
        ...

    async def fail_submit(self, request_id: str, attempt_id: str, error: str) -> bool:
        """SUBMITTING -> PENDING with `error` as last_error; the attempt's signature is
        discarded. False unless `attempt_id` holds the claim."""
        ...

    async def note_error(self, request_id: str, attempt_id: str, error: str) -> bool:
        """Set last_error while the attempt still holds the claim (the outcome is unknown)."""
        ...

    async def stuck_submits(self, now: datetime) -> list[str]:
        """Requests whose submit claim ran past its lease."""
        ...

    async def reclaim_submit(
        self, request_id: str, now: datetime, attempt_id: str, lease_until: datetime
    ) -> SubmitAttempt | None:
        """Take over a stuck submit under a new `attempt_id` (the old holder's finish or fail
        is refused from now on); None unless it is SUBMITTING and its lease has run out."""
        ...

    async def pending_ids(self) -> list[str]:
        """Requests that may still be signed (PENDING, or SUBMITTING and may come back)."""
        ...

    async def due_expiry(self, now: datetime) -> list[str]: ...

    async def expire(self, request_id: str, now: datetime) -> bool:
        """PENDING -> EXPIRED if its time has passed; True for the one caller that did it."""
        ...

    async def due_reminders(self, now: datetime) -> list[str]: ...

    async def claim_reminder(self, request_id: str) -> bool:
        """True once per request, while it is PENDING (a reminder is posted once)."""
        ...

    async def due_tracking(self, now: datetime) -> list[str]: ...

    async def claim_tracking(
        self, request_id: str, now: datetime, until: datetime
    ) -> Tracked | None:
        """Take a due poll: its next poll moves to `until` (a crashed poller's work comes
        back then); None if it is not due or no longer SUBMITTED."""
        ...

    async def update_tracking(
        self,
        request_id: str,
        rollup_state: str | None,
        interval_seconds: float,
        next_poll_at: datetime | None,
    ) -> bool:
        """Record the review state; poll again at `next_poll_at`, or with None stop:
        SUBMITTED -> CLOSED. False if it was not SUBMITTED."""
        ...

    async def add_watch(self, watch: Watch) -> None:
        """Watch a space (replacing its previous watch)."""
        ...

    async def remove_watch(self, space_id: str) -> bool: ...

    async def watches(self) -> list[Watch]: ...

    async def claim_seen(self, space_id: str, change_set_id: str) -> bool:
        """True the first time a change set of the space is claimed, ever."""
        ...

    async def forget_seen(self, space_id: str, change_set_id: str) -> None:
        """Undo a claim whose request could not be made, so the next poll tries again."""
        ...
