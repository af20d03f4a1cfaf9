"""The `RequestStore` port: a versioned approval request saved with compare-and-set, its indexes.

The Redis adapter is bot/stores/requests.py, the in-memory fake tests/fakes/request_store.py;
tests/contract/test_request_store.py holds both to the rules below.

The store knows no lifecycle rule: those are `ApprovalRequest`'s methods (model.py). A change
is read -> step -> `save`, and `save` writes only if nobody saved the request since it was read
(its `version` is unchanged); otherwise it answers None and the caller reads the request again
and decides again. So however many clicks, retries, modals or processes race, every step is
applied to the state it checked: one signature per person, one submit per request.

The job indexes (expiry, reminder, submit lease, tracking poll, escalation) are written by the
same atomic step as the request, from `ApprovalRequest.schedule()`: an index never disagrees
with the request it lists.

`open_signing` also holds a short per-(request, person) signing slot, so a second modal of the
same person submitted while the first is being checked is told so instead of burning a code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from services.requests.model import ApprovalRequest, Index

__all__ = ["Claim", "Index", "Opening", "RequestStore", "Watch"]


class Claim(StrEnum):
    """What an attempt to open a request for signing found."""

    OK = "ok"  # the slot is held
    MISSING = "missing"  # no such request
    BUSY = "busy"  # this person is signing this request in another window right now


@dataclass(frozen=True)
class Opening:
    """`open_signing`'s answer: the claim and the request as it was read (None if missing)."""

    claim: Claim
    request: ApprovalRequest | None


@dataclass(frozen=True)
class Watch:
    """A watched space: new open change sets there become requests in `channel`."""

    space_id: str
    admin: str  # Slack user id: the polling identity and the requester of what it posts
    channel: str
    since: datetime
    policy: str | None = None  # the signing policy of what it posts (None: the default)


class RequestStore(Protocol):
    """Approval requests shared by every process."""

    async def create(self, request: ApprovalRequest) -> ApprovalRequest | None:
        """Store a new request (and index it); the stored request (version 1), or None when
        the id is taken (the caller draws another)."""
        ...

    async def get(self, request_id: str) -> ApprovalRequest | None: ...

    async def get_many(self, request_ids: Sequence[str]) -> list[ApprovalRequest]:
        """The requests that exist, in the order asked; one round trip."""
        ...

    async def save(
        self, request: ApprovalRequest, *, release: str | None = None
    ) -> ApprovalRequest | None:
        """Compare-and-set: write `request` if the stored version is still `request.version`,
        with its indexes; the request as stored (the next version), or None if it changed
        meanwhile. `release` also gives back that person's signing slot. What never changes
        after `create` (target, people, channel, times, snapshot ...) is not written again."""
        ...

    async def set_message(self, request_id: str, ts: str) -> None:
        """Remember the channel message's ts (presentation, outside the versioned state)."""
        ...

    async def open_signing(
        self, request_id: str, user: str, now: datetime, hold_until: datetime
    ) -> Opening:
        """Read the request and, unless another window of `user` holds their slot on it, take
        that slot until `hold_until`. One round trip."""
        ...

    async def release_signing(self, request_id: str, user: str) -> None:
        """Give the slot back (a check failed; the person may try again at once)."""
        ...

    async def due(self, index: Index, now: datetime) -> list[str]:
        """Requests listed in `index` at or before `now` (a bounded batch, earliest first)."""
        ...

    async def pending_ids(self) -> list[str]:
        """Requests that may still be signed (PENDING, or SUBMITTING and may come back)."""
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
