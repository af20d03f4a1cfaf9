"""The hash chain behind the audit trail: entry model, canonical form, HMAC seals, verify.

Every stored entry carries its sequence number (1, 2, 3 ... with no gaps), the hash of the entry
before it (`prev_hash`; the first entry points at `GENESIS_HASH`), the id of the key that sealed
it (`kid`) and its own `hash`: HMAC-SHA256, under a key derived from ENCRYPTION_KEYS (see
services/audit/keys.py), over the canonical form of every other field, `seq`, `prev_hash` and
`kid` included. The key is never stored with the trail, only its public id. So:

- editing any field of an entry breaks that entry's own hash            -> Problem.EDITED
- deleting an entry leaves a gap in `seq`                                -> Problem.DELETED
- moving an entry puts a `seq` where another one belongs                 -> Problem.REORDERED
- replacing an entry with a re-sealed copy breaks the next `prev_hash`   -> Problem.BROKEN_LINK
- deleting the newest entries leaves no gap, so the log keeps a separate
  head (last seq and hash) and `verify` compares the chain's end to it   -> Problem.DELETED
- an entry whose `kid` names no configured key cannot be checked (its key
  was dropped from ENCRYPTION_KEYS, or the `kid` was edited)              -> Problem.UNKNOWN_KEY
- an unkeyed entry (format 1, below) after a keyed one                   -> Problem.DOWNGRADED

Someone who can write to the store but does not hold ENCRYPTION_KEYS cannot compute a seal, so
they can neither forge, edit nor add an entry, nor re-seal the chain after a change: an entry
hashed with plain SHA-256, or with any key but the configured ones, is reported. What they can
still do undetected is exactly this:

- delete the newest entries *and* move the head back to the last entry kept (its seq and hash
  are plain values they can read); deleting the whole trail and the head is the extreme case,
  and restoring an older copy of the store is the same thing;
- replace the trail with all or the first part of another trail sealed with the same keys
  (another deployment or REDIS_PREFIX sharing ENCRYPTION_KEYS), the head set to match;
- replace the whole trail with unkeyed entries (format 1, below), which `verify` accepts but
  counts (`VerifyResult.unkeyed`, shown by `describe`).

A copy of the head kept outside the store from time to time reveals the first two (its hash must
still be found at its seq); an unkeyed count that is not the one seen before, the third.

Format 1 entries, written before the chain was keyed, have no `kid` and their `hash` is plain
SHA-256 of the same canonical form without `kid`. They still verify, but only as a prefix of the
chain: an unkeyed entry after a keyed one is a forgery (or was appended by a process still running
the old version). Once a keyed entry follows the prefix it protects the prefix too, since its seal
covers the `prev_hash` that the prefix's hashes lead to.

This module is pure: no I/O, no clock, no settings; keys are passed in. Stores use
`entry_to_record` / `entry_from_record` so the Redis adapter and the in-memory fake store exactly
the same flat string fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from services.audit.events import AuditEvent
from services.audit.keys import KID_LENGTH, AuditKey, AuditKeyring
from services.jsontext import sorted_compact
from services.records import evolve

#: `prev_hash` of the first entry: 64 zeros, the width of a SHA-256 hex digest.
GENESIS_HASH = "0" * 64

#: Version of the canonical form; stored and hashed so a later format can be told apart.
#: 2: sealed with HMAC-SHA256 under the key `kid` names.
FORMAT_VERSION = 2

#: The format before the chain was keyed: no `kid`, `hash` is plain SHA-256.
UNKEYED_FORMAT = 1

_KID = re.compile(f"[0-9a-f]{{{KID_LENGTH}}}")

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Exactly what `format_utc` writes. Read with fromisoformat (strptime took 15 µs a time, and
# every audit append reads the time of its entry).
_TIME_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The flat string fields an entry is stored as (a Redis stream entry, a fake's record, a JSON
# line). Order is for humans reading XRANGE output; the hash does not depend on it.
RECORD_FIELDS: tuple[str, ...] = (
    "v",
    "seq",
    "at",
    "actor_slack_id",
    "actor_atlassian_id",
    "actor_name",
    "action",
    "target",
    "meaning",
    "reason",
    "details",
    "prev_hash",
    "kid",
    "hash",
)


def format_utc(when: datetime) -> str:
    """ISO-8601 UTC with microseconds and a Z, fixed width so strings sort like times."""
    if when.tzinfo is None or when.utcoffset() is None:
        # A naive time is ambiguous; an audit trail must never guess the zone.
        raise ValueError("audit times must be timezone-aware")
    return when.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_utc(text: str) -> datetime:
    """The inverse of `format_utc`; raises ValueError on anything else."""
    if not _TIME_TEXT.fullmatch(text):
        raise ValueError(f"not an audit time: {text[:40]!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def epoch_ms(when: datetime) -> int:
    """Whole milliseconds since the Unix epoch (floored), for store ids and range queries."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("audit times must be timezone-aware")
    return (when - _EPOCH) // timedelta(milliseconds=1)


def at_or_after(entry: AuditEntry, since: datetime) -> bool:
    """The `since` filter every AuditLog applies: entries whose time is unreadable are kept, so
    an export or a check never silently drops a tampered entry."""
    try:
        return entry.time >= since
    except ValueError:
        return True


@dataclass(frozen=True)
class AuditFields:
    """An entry before the log places it in the chain: everything but seq and the hashes."""

    at: str
    actor_slack_id: str
    action: str
    actor_atlassian_id: str = ""
    actor_name: str = ""
    target: str = ""
    meaning: str = ""
    reason: str = ""
    details: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: AuditEvent, at: datetime) -> AuditFields:
        """Flatten an `AuditEvent` stamped with server-side UTC time `at`."""
        return cls(
            at=format_utc(at),
            actor_slack_id=event.actor.slack_id,
            actor_atlassian_id=event.actor.atlassian_id or "",
            actor_name=event.actor.name or "",
            action=event.action,
            target=event.target,
            meaning=event.meaning,
            reason=event.reason,
            details=dict(event.details),
        )


@dataclass(frozen=True)
class AuditEntry:
    """One stored link of the chain. `id` is where the store keeps it and is not hashed."""

    seq: int
    at: str
    actor_slack_id: str
    action: str
    prev_hash: str
    hash: str
    actor_atlassian_id: str = ""
    actor_name: str = ""
    target: str = ""
    meaning: str = ""
    reason: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    v: int = FORMAT_VERSION
    kid: str = ""
    id: str = ""

    @property
    def time(self) -> datetime:
        """`at` as an aware UTC datetime (ValueError if the stored text was tampered with)."""
        return parse_utc(self.at)

    @property
    def printed_name(self) -> str:
        """The signer's printed name (21 CFR 11.50): the name recorded at the time."""
        return self.actor_name


@dataclass(frozen=True)
class AuditHead:
    """The newest entry's seq and hash, kept apart from the entries; seq 0 means empty."""

    seq: int = 0
    hash: str = GENESIS_HASH


EMPTY_HEAD = AuditHead()


def canonical(entry: AuditEntry) -> bytes:
    """Sorted-key compact UTF-8 JSON of every hashed field (all but `hash` and `id`); `kid` is
    left out only when a format 1 entry has none, which keeps format 1 hashes as they were."""
    body: dict[str, object] = {
        "v": entry.v,
        "seq": entry.seq,
        "at": entry.at,
        "actor_slack_id": entry.actor_slack_id,
        "actor_atlassian_id": entry.actor_atlassian_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "target": entry.target,
        "meaning": entry.meaning,
        "reason": entry.reason,
        "details": dict(entry.details),
        "prev_hash": entry.prev_hash,
    }
    if entry.v != UNKEYED_FORMAT or entry.kid:
        body["kid"] = entry.kid
    return sorted_compact(body).encode()


def entry_hash(entry: AuditEntry, key: AuditKey) -> str:
    """The seal of a format 2 entry: HMAC-SHA256 hex of the canonical form under `key`."""
    return key.mac(canonical(entry))


def unkeyed_hash(entry: AuditEntry) -> str:
    """The hash of a format 1 entry: SHA-256 hex of the canonical form."""
    return hashlib.sha256(canonical(entry)).hexdigest()


def seal(fields: AuditFields, seq: int, prev_hash: str, key: AuditKey) -> AuditEntry:
    """Place `fields` at `seq` after an entry whose hash is `prev_hash`, and seal it with `key`."""
    unsealed = AuditEntry(
        seq=seq,
        at=fields.at,
        actor_slack_id=fields.actor_slack_id,
        actor_atlassian_id=fields.actor_atlassian_id,
        actor_name=fields.actor_name,
        action=fields.action,
        target=fields.target,
        meaning=fields.meaning,
        reason=fields.reason,
        details=dict(fields.details),
        prev_hash=prev_hash,
        hash="",
        kid=key.kid,
    )
    return evolve(unsealed, hash=entry_hash(unsealed, key))


def details_json(details: Mapping[str, str]) -> str:
    """Details as sorted-key compact JSON, the way records and exports hold them."""
    return sorted_compact(dict(details))


def entry_to_record(entry: AuditEntry) -> dict[str, str]:
    """The flat string fields a store keeps (see RECORD_FIELDS); `id` is the store's own."""
    return {
        "v": str(entry.v),
        "seq": str(entry.seq),
        "at": entry.at,
        "actor_slack_id": entry.actor_slack_id,
        "actor_atlassian_id": entry.actor_atlassian_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "target": entry.target,
        "meaning": entry.meaning,
        "reason": entry.reason,
        "details": details_json(entry.details),
        "prev_hash": entry.prev_hash,
        "kid": entry.kid,
        "hash": entry.hash,
    }


def _int_or(text: str, fallback: int) -> int:
    try:
        return int(text)
    except ValueError:
        return fallback


def _details_or_raw(text: str) -> dict[str, str]:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        return parsed
    # Keep the mangled text visible; it cannot match the hash, so verify reports the entry.
    return {"<unreadable details>": text}


def entry_from_record(record: Mapping[str, str], id: str = "") -> AuditEntry:
    """Rebuild an entry from stored fields, never failing: a malformed record (someone edited
    the store) comes back with values that cannot match its hash, so `verify` names it."""
    get = record.get
    return AuditEntry(
        v=_int_or(get("v", ""), -1),
        seq=_int_or(get("seq", ""), -1),
        at=get("at", ""),
        actor_slack_id=get("actor_slack_id", ""),
        actor_atlassian_id=get("actor_atlassian_id", ""),
        actor_name=get("actor_name", ""),
        action=get("action", ""),
        target=get("target", ""),
        meaning=get("meaning", ""),
        reason=get("reason", ""),
        details=_details_or_raw(get("details", "{}")),
        prev_hash=get("prev_hash", ""),
        hash=get("hash", ""),
        kid=get("kid", ""),
        id=id,
    )


class Problem(Enum):
    """Why verification failed."""

    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    BROKEN_LINK = "broken link"
    HEAD_MISMATCH = "head mismatch"
    UNKNOWN_KEY = "unknown key"
    DOWNGRADED = "unkeyed after keyed"


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of `verify`: ok, or the first broken entry and why.

    `checked` counts the entries that passed and `head` is the last of them; `unkeyed` how many of
    those are format 1 (always the first ones). On failure `seq` is the entry at fault (for a
    deletion, the first missing seq) and `entry_id` the store id of the entry where the break
    shows (None when nothing is left to point at).
    """

    ok: bool
    checked: int
    head: AuditHead
    problem: Problem | None = None
    seq: int | None = None
    entry_id: str | None = None
    detail: str = ""
    unkeyed: int = 0

    def describe(self) -> str:
        """One line for a person: what is intact, or the first break and what it means."""
        if self.ok:
            intact = (
                f"audit trail intact: {self.checked} entries, "
                f"head seq {self.head.seq} hash {self.head.hash}"
            )
            if not self.unkeyed:
                return intact
            which = "all of them" if self.unkeyed == self.checked else f"the first {self.unkeyed}"
            return (
                f"{intact}; {which} unkeyed (format 1, from before entries were sealed with "
                "ENCRYPTION_KEYS; unkeyed entries with no keyed one after them can be rewritten "
                "by anyone who can write to the store)"
            )
        assert self.problem is not None
        where = "the head" if self.seq is None else f"seq {self.seq}"
        where += f" (id {self.entry_id})" if self.entry_id else ""
        return f"audit trail BROKEN at {where}: {self.problem.value}: {self.detail}"


_EDITED = "its content does not match its hash: it was edited"


def _same(computed: str, stored: str) -> bool:
    # Bytes, because compare_digest refuses str with non-ASCII (a hand-edited hash may have it).
    return hmac.compare_digest(computed.encode(), stored.encode())


def _seal_fault(
    entry: AuditEntry, keys: AuditKeyring, keyed_before: bool
) -> tuple[Problem, str] | None:
    """Why `entry`'s own hash is not to be trusted, or None if it is."""
    if entry.v == UNKEYED_FORMAT:
        if not _same(unkeyed_hash(entry), entry.hash):
            return Problem.EDITED, _EDITED
        if keyed_before:
            return (
                Problem.DOWNGRADED,
                "an unkeyed (format 1) entry after keyed ones: forged by someone without "
                "ENCRYPTION_KEYS, or appended by a process still running an old version",
            )
        return None
    if entry.v != FORMAT_VERSION or not _KID.fullmatch(entry.kid):
        return Problem.EDITED, f"{_EDITED} (its format or key id is malformed)"
    key = keys.find(entry.kid)
    if key is None:
        return (
            Problem.UNKNOWN_KEY,
            f"sealed with a key that is no longer in ENCRYPTION_KEYS (key id {entry.kid}), or "
            "its key id was edited: put the retired key back at the end of ENCRYPTION_KEYS to "
            "check it",
        )
    if not _same(entry_hash(entry, key), entry.hash):
        return Problem.EDITED, _EDITED
    return None


def _link_fault(
    entry: AuditEntry,
    previous: AuditHead,
    present: set[int],
    keys: AuditKeyring,
    keyed_before: bool,
) -> tuple[Problem, int, str] | None:
    """Why `entry` cannot follow `previous` (the checked chain so far), or None if it can."""
    expected_seq = previous.seq + 1
    sealed = _seal_fault(entry, keys, keyed_before)
    if sealed is not None:
        return sealed[0], entry.seq, sealed[1]
    if entry.seq > expected_seq:
        if expected_seq in present:
            # The missing seq is further down: it was moved, not removed.
            return (
                Problem.REORDERED,
                entry.seq,
                f"found where seq {expected_seq} belongs, which comes later: reordered",
            )
        gap = _seq_range(expected_seq, entry.seq - 1)
        return Problem.DELETED, expected_seq, f"{gap} missing before seq {entry.seq}: deleted"
    if entry.seq < expected_seq:
        return (
            Problem.REORDERED,
            entry.seq,
            f"found after seq {previous.seq}: entries were reordered or replayed",
        )
    if entry.prev_hash != previous.hash:
        return (
            Problem.BROKEN_LINK,
            entry.seq,
            "its prev_hash does not match the entry before it: an earlier entry was replaced "
            "(re-sealed), reordered or deleted",
        )
    return None


def _seq_range(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seqs {first}..{last}"


def verify(
    entries: Iterable[AuditEntry],
    head: AuditHead | None = None,
    *,
    keys: AuditKeyring,
    allow_after_head: bool = False,
) -> VerifyResult:
    """Check `entries` (in stored order, from the first) form one unbroken chain, each entry
    sealed with one of `keys` (format 1 entries: unkeyed, and only before the first keyed one).

    With `head`, the chain must also reach it: missing newest entries are reported as deleted.
    `allow_after_head` accepts (still fully checked) entries past the head, for a head that was
    read before the entries while other processes kept appending.
    """
    chain: Sequence[AuditEntry] = list(entries)
    present = {e.seq for e in chain}
    last = EMPTY_HEAD
    unkeyed = 0
    for index, entry in enumerate(chain):
        fault = _link_fault(entry, last, present, keys, keyed_before=index > unkeyed)
        if fault is not None:
            problem, seq, detail = fault
            return VerifyResult(False, index, last, problem, seq, entry.id or None, detail, unkeyed)
        last = AuditHead(entry.seq, entry.hash)
        if entry.v == UNKEYED_FORMAT:
            unkeyed += 1

    checked = len(chain)
    if head is not None:
        if head.seq > last.seq:
            gap = _seq_range(last.seq + 1, head.seq)
            return VerifyResult(
                False,
                checked,
                last,
                Problem.DELETED,
                last.seq + 1,
                None,
                f"the head records seq {head.seq} but the chain ends at seq {last.seq}: "
                f"{gap} deleted",
                unkeyed,
            )
        if head.seq < 0:
            return VerifyResult(
                False,
                checked,
                last,
                Problem.HEAD_MISMATCH,
                None,
                None,
                "the head is unreadable",
                unkeyed,
            )
        at_head = chain[head.seq - 1] if head.seq > 0 else None
        head_hash = at_head.hash if at_head is not None else GENESIS_HASH
        if head_hash != head.hash:
            return VerifyResult(
                False,
                checked,
                last,
                Problem.HEAD_MISMATCH,
                head.seq,
                (at_head.id or None) if at_head is not None else None,
                "the entry at the head's seq does not have the head's hash: the newest "
                "entries were replaced or the head was edited",
                unkeyed,
            )
        if head.seq < last.seq and not allow_after_head:
            after = chain[head.seq]
            return VerifyResult(
                False,
                checked,
                last,
                Problem.HEAD_MISMATCH,
                after.seq,
                after.id or None,
                f"the head records seq {head.seq} but the chain goes on to seq {last.seq}: "
                "entries were added outside the log or the head was rolled back",
                unkeyed,
            )
    return VerifyResult(True, checked, last, unkeyed=unkeyed)
