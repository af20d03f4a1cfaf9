"""Ports: the Protocols services depend on; Redis adapters live in bot/stores, fakes in tests/fakes.

Every store port has a contract test in tests/contract run against both the Redis adapter (on a
real redis-server) and the in-memory fake, so the fake can be trusted in unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """The time, as an aware UTC datetime; tests move it."""

    def now(self) -> datetime: ...


class StoreHealth(Protocol):
    """Whether the store answers."""

    async def ping(self) -> bool: ...


class Leases(Protocol):
    """Named, expiring, owner-bound leases: one holder at a time across every process."""

    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take the lease if free (or already ours, which extends it); True when held."""
        ...

    async def release(self, name: str, owner: str) -> bool:
        """Give the lease back if we hold it; True when it was ours."""
        ...


class SlackUser(Protocol):
    """What the bot knows of a Slack user from users.info."""

    @property
    def user_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def is_admin(self) -> bool:
        """A workspace admin or owner."""
        ...

    @property
    def deleted(self) -> bool:
        """Deactivated in Slack: may no longer sign (21 CFR 11.100(a))."""
        ...


class Directory(Protocol):
    """Looks Slack users up (users.info)."""

    async def user(self, user_id: str) -> SlackUser: ...


class Notifier(Protocol):
    """Plain-text notices from services to people and to the security channel."""

    async def dm(self, user_id: str, text: str) -> None: ...

    async def security_alert(self, text: str) -> None:
        """Post to SECURITY_CHANNEL when one is configured; otherwise only log."""
        ...


@dataclass(frozen=True)
class Credential:
    """What acting as a user at Atlassian needs; never logged, never shown."""

    access_token: str = field(repr=False)
    cloud_id: str
    account_id: str
    scopes: frozenset[str]


class Credentials(Protocol):
    """The token vault as the ApprovalFlow client sees it (implemented by services/linking)."""

    async def access_token_for(self, user_id: str) -> Credential:
        """A valid token for the Slack user, refreshed first when it expires within 60 s.

        Raises NotLinked or LinkBroken."""
        ...

    async def after_rejection(self, user_id: str, rejected: Credential) -> Credential:
        """The API answered 401 to `rejected`: refresh once (unless another caller already
        did) and return the new credential; raises LinkBroken when that fails too."""
        ...
