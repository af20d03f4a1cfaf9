"""The facts the sandbox emulates, from reference/approvalflow-api.md and atlassian-3lo.md.

Texts marked [I] are not documented anywhere; the sandbox needs *some* value and these are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# --- Atlassian 3LO (atlassian-3lo.md) -------------------------------------------------------

AUDIENCE = "api.atlassian.com"
CODE_LIFETIME = timedelta(minutes=10)  # §1: single use, about 10 minutes
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)  # §3: expires_in is typically 3600
REFRESH_REUSE_WINDOW = timedelta(minutes=10)  # §3: the reuse interval (leeway)
REFRESH_INACTIVITY = timedelta(days=90)  # §3: inactivity expiry
FAMILY_LIFETIME = timedelta(days=365)  # §3: absolute expiry, from the original consent

OFFLINE_ACCESS = "offline_access"
READ_ME = "read:me"

# §2: the documented error bodies of the token endpoint.
BAD_REFRESH = "Unknown or invalid refresh token."  # 403 invalid_grant
INVALID_CODE = "authorization_code is invalid"  # 400 invalid_request
BAD_CLIENT = "Unauthorized"  # 401 access_denied

# Gateway answers (api.atlassian.com) for a missing, expired or revoked bearer, and for a
# scope the token lacks (approvalflow-api.md §3.2 [I]: "Unauthorized; scope does not match").
GATEWAY_UNAUTHORIZED = "Unauthorized"
GATEWAY_SCOPE_MISMATCH = "Unauthorized; scope does not match"
# [I] Atlassian publishes no status or body for "App REST APIs disabled" (§3.2).
GATEWAY_APIS_DISABLED = "App REST APIs are disabled for this app on this site"

# --- ApprovalFlow (approvalflow-api.md) -----------------------------------------------------

PRODUCT_SCOPE = "read:forge-app:confluence"  # §1.2: every call fails without it
READ_CHANGE_SET = "read:change-set:custom"
WRITE_CHANGE_SET = "write:change-set:custom"
READ_APPROVAL = "read:approval:custom"
WRITE_APPROVAL = "write:approval:custom"

# What the consent page shows for each scope (§1.2 display names; the rest are ours).
SCOPE_TITLES = {
    READ_ME: "View your Atlassian profile (name, email, avatar)",
    "read:account": "View your Atlassian account details",
    OFFLINE_ACCESS: "Stay connected when you are not using the app (refresh tokens)",
    PRODUCT_SCOPE: "Call Forge app REST APIs in Confluence",
    READ_CHANGE_SET: "ApprovalFlow: Read Change Sets",
    WRITE_CHANGE_SET: "ApprovalFlow: Manage Change Sets",
    READ_APPROVAL: "ApprovalFlow: Read Approval Status",
    WRITE_APPROVAL: "ApprovalFlow: Submit for Approval",
    "read:page:confluence": "Confluence: View pages (titles, versions)",
    "read:space:confluence": "Confluence: View spaces",
}


@dataclass(frozen=True)
class ApiEndpoint:
    """One of ApprovalFlow's 9 documented endpoints (§2) and the custom scope it needs (§1.2)."""

    name: str
    method: str
    path: str
    scope: str


API_ENDPOINTS = (
    ApiEndpoint("list_change_sets", "GET", "/changeSets", READ_CHANGE_SET),
    ApiEndpoint("change_set_detail", "GET", "/changeSets/detail", READ_CHANGE_SET),
    ApiEndpoint("create_change_set", "POST", "/changeSets", WRITE_CHANGE_SET),
    ApiEndpoint("update_change_set", "POST", "/changeSets/update", WRITE_CHANGE_SET),
    ApiEndpoint("archive_change_set", "POST", "/changeSets/archive", WRITE_CHANGE_SET),
    ApiEndpoint("submit_change_set", "POST", "/changeSets/submit", WRITE_CHANGE_SET),
    ApiEndpoint("preflight_change_set", "POST", "/changeSets/preflight", READ_CHANGE_SET),
    ApiEndpoint("submit_page", "POST", "/pages/submit", WRITE_APPROVAL),
    ApiEndpoint("preflight_page", "POST", "/pages/preflight", READ_APPROVAL),
)
API_ENDPOINT_NAMES = frozenset(endpoint.name for endpoint in API_ENDPOINTS)
# Confluence Cloud REST API v2 (through the gateway's /ex/confluence/{cloudId}/wiki/api/v2).
CONFLUENCE_ENDPOINT_NAMES = frozenset({"confluence_pages", "confluence_spaces"})
OAUTH_ENDPOINT_NAMES = frozenset({"authorize", "token", "accessible_resources", "me"})
# Every endpoint whose calls are recorded and that faults and latency can target.
ENDPOINT_NAMES = API_ENDPOINT_NAMES | OAUTH_ENDPOINT_NAMES | CONFLUENCE_ENDPOINT_NAMES

LICENCE_INACTIVE = "License not active"  # §3.1: 403


def insufficient_scope(scope: str) -> str:
    """The 403 text for a missing scope (§3.1 says "insufficient OAuth scope"; the rest is ours)."""
    return f"Insufficient OAuth scope: this call requires {scope}"


# §2.8 documented reasons a page is blocked (first two quoted; the deleted wording is ours).
NO_WORKFLOW = "No workflow assigned to page"
ALREADY_PENDING = "Page already has a pending approval"
PAGE_DELETED = "Page has been deleted"
# [I] Likely blocks the docs do not list as preflight reasons.
PAGE_NOT_PUBLISHED = "Page is not published"
ALREADY_APPROVED = "Page is already approved at its current version"


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as in the docs' examples: 2026-03-27T10:00:00.000Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
