"""The admin inventory's records: one row per known user, the filters, the summary counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from services.approval_token import Condition, TokenStatus
from services.audit.events import Actor
from services.linking import LinkStatus

# "Expiring" means the first expiry reminder has gone out or is due (services/approval_token).
EXPIRING_WITHIN = timedelta(days=7)


@dataclass(frozen=True)
class Admin:
    """Proof that the server checked this person is an admin, with the actor to audit.

    Only `AdminAccess.require` and `AdminAccess.check` make one; every admin service method
    takes one, so no admin operation can run without the check."""

    actor: Actor

    @property
    def user_id(self) -> str:
        return self.actor.slack_id


class LinkState(StrEnum):
    """The Atlassian link as the inventory shows it."""

    OK = "ok"
    MISSING_SCOPES = "missing scopes"  # linked, but some actions will ask to connect again
    BROKEN = "broken"  # Atlassian refused to renew it; the user must connect again
    UNREADABLE = "unreadable"  # no configured ENCRYPTION_KEYS key opens the stored grant
    NONE = "not linked"

    @property
    def usable(self) -> bool:
        return self in (LinkState.OK, LinkState.MISSING_SCOPES)


@dataclass(frozen=True)
class LinkEntry:
    """A stored link for the inventory; `link` is None when the grant cannot be decrypted."""

    user_id: str
    link: LinkStatus | None

    @property
    def state(self) -> LinkState:
        if self.link is None:
            return LinkState.UNREADABLE
        if self.link.broken:
            return LinkState.BROKEN
        if self.link.missing_scopes:
            return LinkState.MISSING_SCOPES
        return LinkState.OK


class Filter(StrEnum):
    """`/approvals tokens [filter]`; USER is `@user`."""

    ALL = "all"
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    PENDING = "pending"
    LOCKED = "locked"
    UNLINKED = "unlinked"
    USER = "user"


@dataclass(frozen=True)
class Selection:
    """Which rows to show: a filter, or one user."""

    filter: Filter = Filter.ALL
    user: str | None = None  # set only with Filter.USER

    @classmethod
    def of_user(cls, user_id: str) -> Selection:
        return cls(Filter.USER, user_id)


class TokenAction(StrEnum):
    """What an admin can do to someone's Approval Token (never enrol it, never see it)."""

    EXTEND = "extend"
    RESET = "reset"
    UNLOCK = "unlock"


@dataclass(frozen=True)
class TokenRow:
    """One known user: their Approval Token and their Atlassian link."""

    user_id: str
    token: TokenStatus
    link: LinkStatus | None = None
    link_state: LinkState = LinkState.NONE
    slack_name: str | None = None  # filled for exports only; views let Slack render <@id>

    @property
    def condition(self) -> Condition:
        return self.token.condition

    def expiring(self, now: datetime) -> bool:
        return (
            self.token.condition is Condition.ACTIVE
            and self.token.expires_at is not None
            and self.token.expires_at - now <= EXPIRING_WITHIN
        )

    @property
    def enrolled_at(self) -> datetime | None:
        """When the enrolment was confirmed with a first code (None while pending)."""
        return self.token.activated_at if self.token.revoked_at is None else None

    @property
    def actions(self) -> tuple[TokenAction, ...]:
        """The actions that can apply now (the service checks again when one is taken)."""
        token = self.token
        # Activated and not revoked means the stored state is active, even while locked.
        active_state = token.activated_at is not None and token.revoked_at is None
        live = token.condition not in (Condition.NOT_ENROLLED, Condition.REVOKED)
        found: list[TokenAction] = []
        if active_state and live:
            found.append(TokenAction.EXTEND)
        if live and token.revoked_at is None:
            found.append(TokenAction.RESET)
        if token.condition is Condition.LOCKED or token.failures > 0:
            found.append(TokenAction.UNLOCK)
        return tuple(found)


@dataclass(frozen=True)
class Summary:
    """Counts per state for the summary line; `expiring` is a subset of `active`."""

    people: int
    by_condition: dict[Condition, int] = field(default_factory=dict)
    expiring: int = 0
    unlinked: int = 0

    def count(self, condition: Condition) -> int:
        return self.by_condition.get(condition, 0)


@dataclass(frozen=True)
class Roster:
    """Every known user's row at one moment, sorted for display."""

    rows: list[TokenRow]
    taken_at: datetime

    def matching(self, selection: Selection) -> list[TokenRow]:
        if selection.filter is Filter.USER:
            found = [row for row in self.rows if row.user_id == selection.user]
            if not found and selection.user:
                # A Slack user the bot has never seen: say so rather than show nothing.
                status = TokenStatus(user=selection.user, condition=Condition.NOT_ENROLLED)
                found = [TokenRow(user_id=selection.user, token=status)]
            return found
        return [row for row in self.rows if self._keeps(selection.filter, row)]

    def _keeps(self, kind: Filter, row: TokenRow) -> bool:
        match kind:
            case Filter.ALL:
                return True
            case Filter.ACTIVE:
                return row.condition is Condition.ACTIVE
            case Filter.EXPIRING:
                return row.expiring(self.taken_at)
            case Filter.EXPIRED:
                return row.condition is Condition.EXPIRED
            case Filter.PENDING:
                return row.condition is Condition.PENDING
            case Filter.LOCKED:
                return row.condition is Condition.LOCKED
            case Filter.UNLINKED:
                return not row.link_state.usable
        return False

    def summary(self) -> Summary:
        return Summary(
            people=len(self.rows),
            by_condition=dict(Counter(row.condition for row in self.rows)),
            expiring=sum(1 for row in self.rows if row.expiring(self.taken_at)),
            unlinked=sum(1 for row in self.rows if not row.link_state.usable),
        )
