"""Atlassian account linking (3LO) and the token vault (issue 3; ARCHITECTURE §2.1, §7)."""

from __future__ import annotations

from services.linking.atlassian import AtlassianEndpoints, AtlassianOAuth, ClientCredentials
from services.linking.models import REQUESTED_SCOPES, ConnectStart, LinkStatus
from services.linking.ports import GrantStore, LinkNotices, LinkStates
from services.linking.sealed import SealedGrants
from services.linking.service import AccountLinking
from services.linking.vault import TokenVault

__all__ = [
    "REQUESTED_SCOPES",
    "AccountLinking",
    "AtlassianEndpoints",
    "AtlassianOAuth",
    "ClientCredentials",
    "ConnectStart",
    "GrantStore",
    "LinkNotices",
    "LinkStates",
    "LinkStatus",
    "SealedGrants",
    "TokenVault",
]
