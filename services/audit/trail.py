"""The audit trail features record to: time-stamps, secret guard, CSV/JSONL export, verification.

`AuditTrail` is the `Auditor` every feature depends on. Exports show each entry's signature
manifestation (21 CFR 11.50: printed name, UTC date and time, meaning) next to the chain fields,
so a JSON Lines export can be re-verified offline with `entries_from_jsonl` and `verify` (which
needs the keys: an export holds only each entry's key id, never a key).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable, Mapping

from services.audit.chain import (
    AuditEntry,
    AuditFields,
    VerifyResult,
    details_json,
    entry_from_record,
    entry_to_record,
    verify,
)
from services.audit.events import AuditEvent
from services.audit.keys import AuditKeyring
from services.audit.ports import AuditLog
from services.jsontext import sorted_compact
from services.ports import Clock

# A details key is refused when one of its words is one of these (`totp_secret`, `otpCode`,
# `refresh-token` ...) or when it contains one of the unmistakable stems anywhere. It is a guard
# against a feature leaking a credential into a permanent, exported record, so it errs on the
# side of refusing: name such details e.g. `expires_at`, not `token_expires`.
_SECRET_WORDS = frozenset(
    {"secret", "secrets", "code", "codes", "token", "tokens", "otpauth", "password", "passwords",
     "passwd"}
)  # fmt: skip
_SECRET_STEMS = ("secret", "password", "otpauth", "qrcode")  # a QR code holds the secret
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Spreadsheet programs run a cell that starts with one of these as a formula; a reason typed in
# Slack must not become one. The JSON Lines export keeps the exact text.
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS: tuple[str, ...] = (
    "seq",
    "utc_date_time",
    "printed_name",
    "meaning",
    "action",
    "target",
    "reason",
    "slack_user_id",
    "atlassian_account_id",
    "details",
    "prev_hash",
    "key_id",
    "hash",
)


@functools.lru_cache(maxsize=512)  # keys are the code's own few names: check each once
def _looks_secret(key: str) -> bool:
    words = set(_NON_ALNUM.split(_CAMEL.sub(r"\1_\2", key).lower()))
    lowered = key.lower()
    return bool(words & _SECRET_WORDS) or any(stem in lowered for stem in _SECRET_STEMS)


def check_details(details: Mapping[str, str]) -> None:
    """Raise ValueError if a details key looks like a secret or a value is an otpauth URI."""
    for key, value in details.items():
        if _looks_secret(key):
            raise ValueError(
                f"audit details key {key!r} looks like a secret; secrets, codes and tokens "
                "never go into the audit trail (rename the key if it is not one)"
            )
        if value.strip().lower().startswith("otpauth:"):
            raise ValueError(f"audit details value of {key!r} is an otpauth URI")


class AuditTrail:
    """Implements `Auditor`: stamps each event with the server's UTC time and appends it."""

    def __init__(self, log: AuditLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    async def record(self, event: AuditEvent) -> None:
        await self.append(event)

    async def append(self, event: AuditEvent) -> AuditEntry:
        """Like `record`, returning the sealed entry (for callers that show or link it)."""
        check_details(event.details)
        return await self._log.append(AuditFields.from_event(event, self._clock.now()))


async def verify_trail(log: AuditLog, keys: AuditKeyring) -> VerifyResult:
    """Verify the whole stored chain against `keys`, and that it ends where the separately stored
    head says."""
    # Other processes may append while we read. The head read *before* the entries must be
    # reached by them (else the newest entries were deleted); entries past it were appended
    # meanwhile and are checked like the rest. The head read *after* must not be behind the
    # entries, since the head moves with every append and never back (else it was rolled back
    # or lost).
    before = await log.head()
    entries = [entry async for entry in log.entries()]
    after = await log.head()
    result = verify(entries, before, keys=keys, allow_after_head=True)
    if result.ok and after.seq <= result.head.seq and after != result.head:
        return verify(entries, after, keys=keys)
    return result


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_LEADS) else value


def export_csv(entries: Iterable[AuditEntry]) -> str:
    """RFC 4180 CSV with a header row (CSV_COLUMNS); formula-like cells are prefixed with '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        row = (
            str(e.seq),
            e.at,
            e.printed_name,
            e.meaning,
            e.action,
            e.target,
            e.reason,
            e.actor_slack_id,
            e.actor_atlassian_id,
            details_json(e.details),
            e.prev_hash,
            e.kid,
            e.hash,
        )
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def export_jsonl(entries: Iterable[AuditEntry]) -> str:
    """One JSON object a line: the stored fields exactly (`actor_name` is the printed name,
    `at` the UTC date and time), `details` as an object, plus the store `id`."""
    lines = []
    for e in entries:
        record: dict[str, object] = dict(entry_to_record(e))
        record["seq"] = e.seq
        record["v"] = e.v
        record["details"] = dict(e.details)
        record["id"] = e.id
        lines.append(sorted_compact(record))
    return "".join(line + "\n" for line in lines)


def entries_from_jsonl(text: str) -> list[AuditEntry]:
    """Read an `export_jsonl` export back, to verify it away from the store."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        if not isinstance(raw, dict):
            raise ValueError(f"line {number} is not a JSON object")
        # Back to the record form (all text) that entry_from_record reads; a value of the wrong
        # type is kept as its JSON text, which cannot match the hash, so verify names the entry.
        record = {
            key: value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            for key, value in raw.items()
        }
        details = raw.get("details", {})
        if isinstance(details, dict):
            record["details"] = details_json(details)
        entries.append(entry_from_record(record, id=str(raw.get("id", ""))))
    return entries
