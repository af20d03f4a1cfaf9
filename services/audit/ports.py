"""The `AuditLog` port: the append-only, hash-chained store behind the audit trail.

The Redis adapter is bot/stores/audit.py, the in-memory fake tests/fakes/audit_log.py; both pass
tests/contract/test_audit_log.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol

from services.audit.chain import AuditEntry, AuditFields, AuditHead


class AuditLog(Protocol):
    """An append-only chain of audit entries shared by every process."""

    async def append(self, fields: AuditFields) -> AuditEntry:
        """Store `fields` as the next entry and return it sealed with the log's newest audit key
        (seq, prev_hash, kid, hash, id).

        Atomic across processes: whatever the number of concurrent appenders, the entries form
        one chain, seq 1, 2, 3 ... each pointing at the hash of the one before, none lost.
        """
        ...

    def entries(self, since: datetime | None = None) -> AsyncIterator[AuditEntry]:
        """Every stored entry in stored order (the order verification needs), read in pages;
        with `since`, only those whose `at` is at or after it (unreadable times are kept)."""
        ...

    async def head(self) -> AuditHead:
        """The newest entry's seq and hash as recorded apart from the entries (EMPTY_HEAD when
        nothing was appended); it is what reveals the deletion of the newest entries."""
        ...
