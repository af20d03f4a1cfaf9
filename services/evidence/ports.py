"""What the evidence service needs from outside: an admin check and a PDF renderer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.admin.models import Admin
from services.evidence.model import EvidenceRecord


class AdminCheck(Protocol):
    """Whether a Slack user is an admin now (services/admin `AdminAccess.check`)."""

    async def check(self, user_id: str) -> Admin | None: ...


@dataclass(frozen=True)
class RenderedReport:
    content: bytes
    pages: int


class ReportRenderer(Protocol):
    """Turns a record into a document; CPU-bound, so the service runs it in a worker thread."""

    def render(self, record: EvidenceRecord) -> RenderedReport: ...

    def ready(self) -> str:
        """What it renders with, for `approvals-bot check`; raises ConfigError if it cannot."""
        ...
