"""Admin actions on someone's Approval Token: extend, reset, unlock; each audited, each told."""

from __future__ import annotations

from datetime import datetime

from services.admin.models import Admin, TokenAction
from services.admin.ports import TokenAdminNotices
from services.approval_token import ApprovalTokens
from services.audit.events import AuditEvent, Auditor
from services.errors import AdminReasonTooLong, ExtendDaysInvalid

MAX_EXTEND_DAYS = 365
MAX_REASON = 280


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_EXTEND_DAYS:
        raise ExtendDaysInvalid(MAX_EXTEND_DAYS)
    return days


def check_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise AdminReasonTooLong(MAX_REASON)
    return reason


class TokenAdmin:
    """What an admin may do to another person's Approval Token. There is deliberately no way to
    enrol for someone or to read a secret: a reset only revokes, and only the person can enrol
    again, in their own DM (21 CFR 11.200(a)(3))."""

    def __init__(
        self, *, tokens: ApprovalTokens, auditor: Auditor, notices: TokenAdminNotices
    ) -> None:
        self._tokens = tokens
        self._auditor = auditor
        self._notices = notices

    async def extend(self, admin: Admin, user: str, days: int, reason: str = "") -> datetime:
        """Move the expiry `days` later (from now if it has passed); the new expiry."""
        days, reason = check_days(days), check_reason(reason)
        expires_at = await self._tokens.extend(user, days, admin.actor)
        await self._audit(
            admin,
            TokenAction.EXTEND,
            user,
            reason,
            {"days": str(days), "expires_at": expires_at.isoformat()},
        )
        await self._notices.extended(user, expires_at, admin.actor)
        return expires_at

    async def reset(self, admin: Admin, user: str, reason: str = "") -> None:
        """Revoke the token now: no code verifies until the person enrols again themselves."""
        reason = check_reason(reason)
        revocation = await self._tokens.revoke(
            user, admin.actor, f"admin reset: {reason}" if reason else "admin reset"
        )
        await self._audit(
            admin, TokenAction.RESET, user, reason, {"previous": revocation.previous_state.value}
        )
        await self._notices.reset(user, admin.actor, revocation.qr)

    async def unlock(self, admin: Admin, user: str, reason: str = "") -> None:
        """Clear the lock and the failed-attempt count."""
        reason = check_reason(reason)
        await self._tokens.unlock(user, admin.actor)
        await self._audit(admin, TokenAction.UNLOCK, user, reason, {})
        await self._notices.unlocked(user, admin.actor)

    async def _audit(
        self, admin: Admin, action: TokenAction, user: str, reason: str, details: dict[str, str]
    ) -> None:
        # The token service has already recorded what happened to the token (token.revoked
        # ...); this entry records the admin's decision, with their reason.
        await self._auditor.record(
            AuditEvent(
                actor=admin.actor,
                action=f"admin.token.{action.value}",
                target=f"approval-token:{user}",
                reason=reason,
                details={"user": user, **details},
            )
        )
