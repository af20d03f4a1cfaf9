"""Approval Token: each user's TOTP second factor for e-signatures (issue 5; ARCHITECTURE §2.2)."""

from __future__ import annotations

from services.approval_token.ports import QrMessage, SecurityAlerts, TokenStore
from services.approval_token.service import (
    Activation,
    ApprovalTokens,
    Condition,
    Enrolment,
    ExpiryReminder,
    TokenStatus,
    Verification,
)

__all__ = [
    "Activation",
    "ApprovalTokens",
    "Condition",
    "Enrolment",
    "ExpiryReminder",
    "QrMessage",
    "SecurityAlerts",
    "TokenStatus",
    "TokenStore",
    "Verification",
]
