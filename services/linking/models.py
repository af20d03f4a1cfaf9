"""The link's records: the grant (sealed at rest), a pending connect, and what Atlassian answers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.errors import SecretError

# What /approvals connect asks for. `read:me` and `offline_access` are what linking
# itself needs; without the others the link works but the actions needing them will not.
REQUESTED_SCOPES: tuple[str, ...] = (
    "read:forge-app:confluence",
    "read:change-set:custom",
    "write:change-set:custom",
    "read:approval:custom",
    "write:approval:custom",
    # Confluence v2: page titles and versions (what a signer signs), spaces by key.
    "read:page:confluence",
    "read:space:confluence",
    "read:me",
    "offline_access",
)
ESSENTIAL_SCOPES: tuple[str, ...] = ("read:me", "offline_access")

# Refresh when the access token has less than this left ("within 60 s").
EXPIRY_MARGIN = timedelta(seconds=60)
# Keep refresh tokens well inside Atlassian's 90-day inactivity limit.
IDLE_REFRESH_AFTER = timedelta(days=30)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_GRANT_FORMAT = 1


def to_ms(when: datetime) -> int:
    """Milliseconds since the epoch (stores keep times to the millisecond)."""
    return (when - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * _MS


@dataclass(frozen=True)
class PendingLink:
    """A connect in progress: which Slack user (in which team) the state was issued to."""

    team_id: str
    user_id: str
    created_at: datetime


@dataclass(frozen=True)
class AuthorizationReply:
    """What Atlassian sent back to the callback, already checked for shape and size."""

    state: str
    code: str | None = field(default=None, repr=False)
    error: str | None = None
    error_description: str | None = None


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint answer. `scopes` is None when Atlassian left `scope` out."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    scopes: frozenset[str] | None


@dataclass(frozen=True)
class Resource:
    """One site from accessible-resources; `id` is its cloud id."""

    id: str
    url: str
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Profile:
    """From /me; everything but the account id may be hidden by profile visibility."""

    account_id: str
    name: str
    email: str | None


@dataclass(frozen=True)
class Grant:
    """A user's stored 3LO grant. Sealed whole with SecretBox; never logged, never shown.

    `version` is the store's, not part of the sealed document: it changes on every write and
    makes each write a compare-and-set."""

    team_id: str
    user_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scopes: frozenset[str]
    cloud_id: str
    site_url: str
    account_id: str
    name: str
    email: str | None
    linked_at: datetime
    last_refreshed_at: datetime
    broken: bool = False
    broken_at: datetime | None = None
    broken_reason: str = ""
    version: int = 0

    def expiring(self, now: datetime) -> bool:
        return self.expires_at - now <= EXPIRY_MARGIN

    @property
    def missing_scopes(self) -> list[str]:
        return [scope for scope in REQUESTED_SCOPES if scope not in self.scopes]

    def refreshed(self, tokens: TokenSet, now: datetime) -> Grant:
        return replace(
            self,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=now + timedelta(seconds=tokens.expires_in),
            scopes=tokens.scopes if tokens.scopes is not None else self.scopes,
            last_refreshed_at=now,
        )

    def broken_now(self, now: datetime, reason: str) -> Grant:
        # The tokens are dead; keeping them would only keep secrets around.
        return replace(
            self,
            access_token="",
            refresh_token="",
            broken=True,
            broken_at=now,
            broken_reason=reason,
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "format": _GRANT_FORMAT,
            "team": self.team_id,
            "user": self.user_id,
            "access": self.access_token,
            "refresh": self.refresh_token,
            "expires_at": to_ms(self.expires_at),
            "scopes": sorted(self.scopes),
            "cloud_id": self.cloud_id,
            "site": self.site_url,
            "account": self.account_id,
            "name": self.name,
            "email": self.email,
            "linked_at": to_ms(self.linked_at),
            "refreshed_at": to_ms(self.last_refreshed_at),
            "broken": self.broken,
            "broken_at": to_ms(self.broken_at) if self.broken_at else None,
            "broken_reason": self.broken_reason,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any], version: int) -> Grant:
        try:
            if document["format"] != _GRANT_FORMAT:
                raise SecretError(f"a stored grant has the unknown format {document['format']!r}")
            return cls(
                team_id=str(document["team"]),
                user_id=str(document["user"]),
                access_token=str(document["access"]),
                refresh_token=str(document["refresh"]),
                expires_at=from_ms(int(document["expires_at"])),
                scopes=frozenset(str(scope) for scope in document["scopes"]),
                cloud_id=str(document["cloud_id"]),
                site_url=str(document["site"]),
                account_id=str(document["account"]),
                name=str(document["name"]),
                email=None if document["email"] is None else str(document["email"]),
                linked_at=from_ms(int(document["linked_at"])),
                last_refreshed_at=from_ms(int(document["refreshed_at"])),
                broken=bool(document["broken"]),
                broken_at=from_ms(int(document["broken_at"])) if document["broken_at"] else None,
                broken_reason=str(document["broken_reason"]),
                version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SecretError(f"a stored grant is malformed ({type(exc).__name__})") from None


@dataclass(frozen=True)
class LinkStatus:
    """What `/approvals status` and other features may know of a link: no tokens."""

    user_id: str
    site_url: str
    cloud_id: str
    account_id: str
    name: str
    email: str | None
    scopes: frozenset[str]
    missing_scopes: list[str]
    linked_at: datetime
    last_refreshed_at: datetime
    expires_at: datetime
    broken: bool
    broken_at: datetime | None

    @classmethod
    def of(cls, grant: Grant) -> LinkStatus:
        return cls(
            user_id=grant.user_id,
            site_url=grant.site_url,
            cloud_id=grant.cloud_id,
            account_id=grant.account_id,
            name=grant.name,
            email=grant.email,
            scopes=grant.scopes,
            missing_scopes=grant.missing_scopes,
            linked_at=grant.linked_at,
            last_refreshed_at=grant.last_refreshed_at,
            expires_at=grant.expires_at,
            broken=grant.broken,
            broken_at=grant.broken_at,
        )


@dataclass(frozen=True)
class ConnectStart:
    """The authorize URL for the connect button, and the link it would replace, if any."""

    authorize_url: str = field(repr=False)  # holds the single-use state
    expires_at: datetime
    current: LinkStatus | None
