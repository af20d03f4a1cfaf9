"""What features hand to the audit trail: who did what to which target, meaning and reason.

Never put a secret, a TOTP code, an otpauth URI or an OAuth token in any field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Actor:
    """The person (or the bot itself, slack_id "system") behind an audited action."""

    slack_id: str
    atlassian_id: str | None = None
    name: str | None = None


SYSTEM = Actor(slack_id="system", name="approvals-bot")


@dataclass(frozen=True)
class AuditEvent:
    """One audited action; `action` is a dotted verb such as `token.verify.failed`."""

    actor: Actor
    action: str
    target: str = ""
    meaning: str = ""
    reason: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


class Auditor(Protocol):
    """Appends events to the tamper-evident trail; every feature depends only on this."""

    async def record(self, event: AuditEvent) -> None: ...
