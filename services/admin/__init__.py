"""Admin features (issue 7): the admin check, the token inventory and actions, audit review."""

from __future__ import annotations

from dataclasses import dataclass

from services.admin.access import AdminAccess
from services.admin.actions import MAX_EXTEND_DAYS, TokenAdmin
from services.admin.audit_review import AuditExport, AuditOverview, AuditReview, ExportFormat
from services.admin.inventory import TokenExport, TokenInventory
from services.admin.links import SealedLinkRoster
from services.admin.models import (
    EXPIRING_WITHIN,
    Admin,
    Filter,
    LinkEntry,
    LinkState,
    Roster,
    Selection,
    Summary,
    TokenAction,
    TokenRow,
)
from services.admin.ports import LinkRoster, MemberNames, TokenAdminNotices


@dataclass(frozen=True)
class AdminServices:
    """What the admin listeners need, built once by the composition root."""

    access: AdminAccess
    inventory: TokenInventory
    actions: TokenAdmin
    audit: AuditReview


__all__ = [
    "EXPIRING_WITHIN",
    "MAX_EXTEND_DAYS",
    "Admin",
    "AdminAccess",
    "AdminServices",
    "AuditExport",
    "AuditOverview",
    "AuditReview",
    "ExportFormat",
    "Filter",
    "LinkEntry",
    "LinkRoster",
    "LinkState",
    "MemberNames",
    "Roster",
    "SealedLinkRoster",
    "Selection",
    "Summary",
    "TokenAction",
    "TokenAdmin",
    "TokenAdminNotices",
    "TokenExport",
    "TokenInventory",
    "TokenRow",
]
