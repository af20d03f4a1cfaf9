"""An in-memory `AuditLog` that behaves like the Redis one; tests inspect and tamper with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from services.audit.chain import (
    EMPTY_HEAD,
    AuditEntry,
    AuditFields,
    AuditHead,
    at_or_after,
    epoch_ms,
    parse_utc,
    seal,
)
from services.audit.keys import AuditKeyring

#: The keys every fake log seals with unless given others (from two fixed Fernet keys).
TEST_AUDIT_KEYS = AuditKeyring.from_fernet_keys(
    ["YXVkaXQtdGVzdC1rZXktMS0xMjM0NTY3ODkwMTIzNDU=", "YXVkaXQtdGVzdC1rZXktMC0xMjM0NTY3ODkwMTIzNDU="]
)


class InMemoryAuditLog:
    """Entries in a list, head kept apart, ids `<ms>-<n>` like the Redis adapter's.

    `stored` and `stored_head` are public so a test can read them or tamper with them (edit,
    delete, reorder) and check that verification notices; `keys` is what to verify them with.
    """

    def __init__(self, keys: AuditKeyring = TEST_AUDIT_KEYS) -> None:
        self.keys = keys
        self.stored: list[AuditEntry] = []
        self.stored_head: AuditHead = EMPTY_HEAD
        self._last_id = (0, 0)

    async def append(self, fields: AuditFields) -> AuditEntry:
        # No await in here, so on one event loop an append is atomic, as the Lua script is.
        entry = seal(fields, self.stored_head.seq + 1, self.stored_head.hash, self.keys.sealing)
        ms, n = max(0, epoch_ms(parse_utc(fields.at))), 0
        if self._last_id[0] >= ms:
            ms, n = self._last_id[0], self._last_id[1] + 1
        if ms == 0 and n == 0:
            n = 1
        self._last_id = (ms, n)
        entry = replace(entry, id=f"{ms}-{n}")
        self.stored.append(entry)
        self.stored_head = AuditHead(entry.seq, entry.hash)
        return entry

    async def entries(self, since: datetime | None = None) -> AsyncIterator[AuditEntry]:
        for entry in list(self.stored):
            if since is None or at_or_after(entry, since):
                yield entry

    async def head(self) -> AuditHead:
        return self.stored_head

    # Inspection helpers for tests of the features that record events.

    def actions(self) -> list[str]:
        """The action of every entry, oldest first."""
        return [entry.action for entry in self.stored]

    def find(self, action: str) -> list[AuditEntry]:
        """The entries with this action, oldest first."""
        return [entry for entry in self.stored if entry.action == action]

    def last(self) -> AuditEntry:
        """The newest entry (IndexError when nothing was recorded)."""
        return self.stored[-1]
