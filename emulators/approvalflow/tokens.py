"""Atlassian 3LO over the sandbox world: codes, token families and rotating refresh tokens.

The refresh rules (atlassian-3lo.md §3) as a tree of refresh tokens per family:
- a refresh token never exchanged rotates: a new access + refresh pair, the sent one is used;
- a used refresh token may be sent again within 10 minutes of its first exchange, as long as
  none of its children has been exchanged (so only the immediately previous token is tolerated);
- anything else (reuse after the window, or an older generation) revokes the whole family;
- an access token dies at its expiry, or 10 minutes after its companion refresh token was
  exchanged, or when its family is revoked.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from emulators.approvalflow.contract import (
    ACCESS_TOKEN_LIFETIME,
    BAD_CLIENT,
    BAD_REFRESH,
    CODE_LIFETIME,
    FAMILY_LIFETIME,
    INVALID_CODE,
    OFFLINE_ACCESS,
    REFRESH_INACTIVITY,
    REFRESH_REUSE_WINDOW,
)
from emulators.approvalflow.errors import OAuthError
from emulators.approvalflow.models import AccessToken, AuthCode, Family, RefreshToken, World


def bad_client() -> OAuthError:
    return OAuthError(401, "access_denied", BAD_CLIENT)


def invalid_refresh() -> OAuthError:
    return OAuthError(403, "invalid_grant", BAD_REFRESH)


def issue_code(
    world: World,
    *,
    client_id: str,
    redirect_uri: str,
    account_id: str,
    scopes: list[str],
    now: datetime,
) -> str:
    """Record a consent and return its single-use code."""
    code = secrets.token_urlsafe(24)
    world.codes[code] = AuthCode(
        code=code,
        client_id=client_id,
        redirect_uri=redirect_uri,
        account_id=account_id,
        scopes=scopes,
        # The sites are fixed at consent time, like the real consent screen's site choice.
        site_ids=list(world.users[account_id].site_ids),
        issued_at=now,
    )
    return code


def exchange_code(
    world: World, *, client_id: str, code: str, redirect_uri: str, now: datetime
) -> tuple[Family, dict[str, Any]]:
    """The authorization_code grant: a new family and its first token pair."""
    _prune(world, now)
    grant = world.codes.get(code)
    if (
        grant is None
        or grant.used
        or now - grant.issued_at > CODE_LIFETIME
        or grant.client_id != client_id
        or grant.redirect_uri != redirect_uri
    ):
        raise OAuthError(400, "invalid_request", INVALID_CODE)
    grant.used = True
    family = Family(
        id=f"fam-{secrets.token_hex(6)}",
        client_id=client_id,
        account_id=grant.account_id,
        scopes=grant.scopes,
        site_ids=grant.site_ids,
        created_at=now,
    )
    world.families[family.id] = family
    return family, _issue_pair(world, family, parent=None, now=now)


def refresh(
    world: World, *, client_id: str, refresh_token: str, now: datetime
) -> tuple[Family, dict[str, Any]]:
    """The refresh_token grant with Atlassian's rotation, reuse window and breach detection."""
    _prune(world, now)
    sent = world.refresh_tokens.get(refresh_token)
    if sent is None:
        raise invalid_refresh()
    family = world.families[sent.family_id]
    if (
        family.revoked_at is not None
        or family.client_id != client_id
        or now - family.created_at > FAMILY_LIFETIME
        or now - sent.issued_at > REFRESH_INACTIVITY
    ):
        raise invalid_refresh()
    if sent.exchanged_at is None:
        sent.exchanged_at = now
    else:
        late = now - sent.exchanged_at > REFRESH_REUSE_WINDOW
        superseded = any(
            child.parent == sent.token and child.exchanged_at is not None
            for child in world.refresh_tokens.values()
        )
        if late or superseded:
            family.revoked_at = now
            family.revoked_reason = (
                "refresh token reused after the reuse window"
                if late
                else "an older refresh token was reused"
            )
            raise invalid_refresh()
    family.refresh_count += 1
    return family, _issue_pair(world, family, parent=sent.token, now=now)


def token_family(world: World, access_token: str, now: datetime) -> Family | None:
    """The family of a live access token; None when unknown, expired or revoked."""
    token = world.access_tokens.get(access_token)
    if token is None or now >= token.expires_at:
        return None
    family = world.families[token.family_id]
    if family.revoked_at is not None:
        return None
    companion = world.refresh_tokens.get(token.companion) if token.companion else None
    if companion is not None and companion.exchanged_at is not None:
        if now - companion.exchanged_at > REFRESH_REUSE_WINDOW:
            return None
    return family


def _issue_pair(
    world: World, family: Family, *, parent: str | None, now: datetime
) -> dict[str, Any]:
    companion: str | None = None
    if OFFLINE_ACCESS in family.scopes:
        companion = secrets.token_urlsafe(32)
        world.refresh_tokens[companion] = RefreshToken(
            token=companion, family_id=family.id, parent=parent, issued_at=now
        )
    access = secrets.token_urlsafe(32)
    world.access_tokens[access] = AccessToken(
        token=access,
        family_id=family.id,
        issued_at=now,
        expires_at=now + ACCESS_TOKEN_LIFETIME,
        companion=companion,
    )
    answer: dict[str, Any] = {
        "access_token": access,
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        "token_type": "Bearer",
        "scope": " ".join(family.scopes),
    }
    if companion is not None:
        answer["refresh_token"] = companion
    return answer


def _prune(world: World, now: datetime) -> None:
    """Forget what can never be accepted again, so a persisted snapshot stays small."""
    for code in [c for c, g in world.codes.items() if now - g.issued_at > CODE_LIFETIME]:
        del world.codes[code]
    for token in [t for t, a in world.access_tokens.items() if now >= a.expires_at]:
        del world.access_tokens[token]
    # Refresh tokens stay while their family lives, because reuse detection needs the tree.
    dead = {
        f.id
        for f in world.families.values()
        if f.revoked_at is not None or now - f.created_at > FAMILY_LIFETIME
    }
    for token in [t for t, r in world.refresh_tokens.items() if r.family_id in dead]:
        del world.refresh_tokens[token]
