"""Every Redis key name and TTL in one place, with the hash tag that decides each key's slot.

All keys live under REDIS_PREFIX; every `Keys` method returns the full key name, prefix included.

Redis Cluster runs a Lua script, a transaction or a pipeline's multi-key command only when every
key it names hashes to one slot, and the slot of a key is the hash of its `{tag}` when it has
one. So every key is declared with the aggregate whose slot it lives in (`Slot`):

    REQUEST   `{req:<n>}`   a request's hash and shard n of the job indexes it belongs to
    USER      `{user:<n>}`  a person's Approval Token and Atlassian link (one script may touch
                            both records and their indexes), and shard n of the user indexes
    ACCOUNTS  `{accounts}`  which Atlassian account is linked to which person (one account links
                            one person: a uniqueness rule across users, so one registry)
    AUDIT     `{audit}`     the audit chain: its stream and its head change in one script
    ALONE     no tag        a key that no script, transaction or pipelined multi-key command
                            uses together with another key (leases, health, sign-in states,
                            watched spaces), so any slot will do and keys spread freely

Indexes that span aggregates (requests pending, due reminders and polls, tokens by expiry,
every enrolled or linked person) are cut into SHARDS pieces: an aggregate belongs to the piece
`shard_of(its id)`, which shares its slot, so a script updates the aggregate and its index entry
atomically; a job or a listing reads all SHARDS pieces (one pipelined round trip per node).

SHARDS and `shard_of` are part of the stored layout: changing either moves every key.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

# TTLs, in seconds, of the ephemeral things (ARCHITECTURE §7).
OAUTH_STATE_TTL = 10 * 60
PENDING_ENROLMENT_TTL = 10 * 60

# How many pieces each cross-aggregate index is cut into: enough to spread over the masters of
# a large cluster (16 slots land on 3 masters ~5-6 each), few enough that a job reads them all
# in one pipeline.
SHARDS = 16


def shard_of(ident: str) -> int:
    """The shard an aggregate's id belongs to (stable: CRC-32 of its UTF-8, mod SHARDS)."""
    return zlib.crc32(ident.encode()) % SHARDS


def shards() -> range:
    """Every shard number, for jobs and listings that read a whole index."""
    return range(SHARDS)


class Slot(enum.Enum):
    """The hash-tag decision of a key: which aggregate's slot it shares (module docstring)."""

    REQUEST = "req"
    USER = "user"
    ACCOUNTS = "accounts"
    AUDIT = "audit"
    ALONE = ""


_Method = TypeVar("_Method", bound=Callable[..., str])


def slot(decision: Slot) -> Callable[[_Method], _Method]:
    """Mark a key method with its hash-tag decision; a test refuses a key method without one."""

    def mark(method: _Method) -> _Method:
        method.slot = decision  # type: ignore[attr-defined]
        return method

    return mark


@dataclass(frozen=True)
class Keys:
    """Builds prefixed key names; one instance per process, made in the composition root."""

    prefix: str

    def _tagged(self, decision: Slot, shard: int | None, rest: str) -> str:
        tag = decision.value if shard is None else f"{decision.value}:{shard}"
        return f"{self.prefix}{{{tag}}}:{rest}"

    @slot(Slot.ALONE)
    def lease(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

    @slot(Slot.ALONE)
    def health(self) -> str:
        return f"{self.prefix}health"

    # Set when Slack said the app was uninstalled or its token revoked; keyed by a fingerprint
    # of the token, so a new token starts clean. No TTL: it stays true for that token.
    @slot(Slot.ALONE)
    def slack_removed(self, fingerprint: str) -> str:
        return f"{self.prefix}slack-removed:{fingerprint}"

    # The next free moment of a pacing lane (a channel's posts, the workspace's message
    # updates) for every process's jobs; one key per lane, alive only until that moment.
    @slot(Slot.ALONE)
    def pace(self, lane: str) -> str:
        return f"{self.prefix}pace:{lane}"

    # Where a job that works through a list in turns got to (the check of people's accounts).
    @slot(Slot.ALONE)
    def bookmark(self, name: str) -> str:
        return f"{self.prefix}bookmark:{name}"

    # The audit trail: a stream of entries and the head (last seq, hash, stream id) kept apart
    # so that deleting the newest entries shows; one Lua script touches both.
    @slot(Slot.AUDIT)
    def audit_stream(self) -> str:
        return self._tagged(Slot.AUDIT, None, "stream")

    @slot(Slot.AUDIT)
    def audit_head(self) -> str:
        return self._tagged(Slot.AUDIT, None, "head")

    # Approval Tokens: one hash per user; in the user's shard, the QR messages still to delete
    # (user -> JSON), the pending enrolments by pending_until, the active tokens by expires_at,
    # and every user who ever started an enrolment (the admin inventory, without SCAN; only a
    # hint: a member whose hash has gone is skipped). A pending user hash expires after
    # PENDING_ENROLMENT_TTL (at least).
    @slot(Slot.USER)
    def totp_token(self, user: str) -> str:
        return self._tagged(Slot.USER, shard_of(user), f"totp:{user}")

    @slot(Slot.USER)
    def totp_qr(self, shard: int) -> str:
        return self._tagged(Slot.USER, shard, "totp-qr")

    @slot(Slot.USER)
    def totp_pending(self, shard: int) -> str:
        return self._tagged(Slot.USER, shard, "totp-pending")

    @slot(Slot.USER)
    def totp_expiry(self, shard: int) -> str:
        return self._tagged(Slot.USER, shard, "totp-expiry")

    @slot(Slot.USER)
    def totp_users(self, shard: int) -> str:
        return self._tagged(Slot.USER, shard, "totp-users")

    # Atlassian links: one hash per Slack user (version, account, sealed grant, refreshed ms,
    # broken) and, in the user's shard, the working grants by last refresh (the idle-refresh
    # job). The account registry maps Atlassian account -> Slack user ('a:<account>') and back
    # ('u:<user>'), so one account links one person and the admin listing names every linked
    # user. OAuth states are keyed by the SHA-256 of the state (the state itself never rests in
    # the store) and expire after OAUTH_STATE_TTL.
    @slot(Slot.USER)
    def link_grant(self, user: str) -> str:
        return self._tagged(Slot.USER, shard_of(user), f"link:{user}")

    @slot(Slot.USER)
    def link_refreshed(self, shard: int) -> str:
        return self._tagged(Slot.USER, shard, "link-refreshed")

    @slot(Slot.ACCOUNTS)
    def link_accounts(self) -> str:
        return self._tagged(Slot.ACCOUNTS, None, "registry")

    @slot(Slot.ALONE)
    def oauth_state(self, digest: str) -> str:
        return f"{self.prefix}oauth:state:{digest}"

    # Approval requests: one hash per request (its versioned state); in the request's shard, five
    # zsets the jobs read (pending by expiry, reminders due, submits in flight by lease end,
    # tracking by next poll, open stages by escalation time). One compare-and-set script writes
    # a request and its index entries together, so an index never disagrees with its request.
    @slot(Slot.REQUEST)
    def request(self, request_id: str) -> str:
        return self._tagged(Slot.REQUEST, shard_of(request_id), f"r:{request_id}")

    @slot(Slot.REQUEST)
    def request_expiry(self, shard: int) -> str:
        return self._tagged(Slot.REQUEST, shard, "expiry")

    @slot(Slot.REQUEST)
    def request_reminders(self, shard: int) -> str:
        return self._tagged(Slot.REQUEST, shard, "remind")

    @slot(Slot.REQUEST)
    def request_submitting(self, shard: int) -> str:
        return self._tagged(Slot.REQUEST, shard, "submitting")

    @slot(Slot.REQUEST)
    def request_tracking(self, shard: int) -> str:
        return self._tagged(Slot.REQUEST, shard, "tracking")

    @slot(Slot.REQUEST)
    def request_escalations(self, shard: int) -> str:
        return self._tagged(Slot.REQUEST, shard, "escalate")

    # Watched spaces (a hash space id -> JSON) and, per watched space, the change sets already
    # seen (a set): each written by single-key commands only.
    @slot(Slot.ALONE)
    def request_watches(self) -> str:
        return f"{self.prefix}watches"

    @slot(Slot.ALONE)
    def request_seen(self, space_id: str) -> str:
        return f"{self.prefix}seen:{space_id}"
