"""Account linking: `/approvals connect`, the OAuth callback, `/approvals disconnect` and status."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

from services.audit.events import Actor, AuditEvent, Auditor
from services.errors import (
    AccountTaken,
    AuthorizeFailed,
    BadCallback,
    ConsentDenied,
    EmailMismatch,
    LinkAttemptFailed,
    LinkError,
    LinkStateInvalid,
    MissingScope,
    SecretError,
    SiteNotGranted,
    UpstreamError,
    UpstreamUnavailable,
)
from services.linking.atlassian import AtlassianOAuth
from services.linking.models import (
    ESSENTIAL_SCOPES,
    REQUESTED_SCOPES,
    AuthorizationReply,
    ConnectStart,
    Grant,
    LinkStatus,
    PendingLink,
    Profile,
    Resource,
)
from services.linking.ports import LinkNotices, LinkStates
from services.linking.sealed import SealedGrants
from services.ports import Clock, Directory

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)  # single use, 10 minutes


def same_site(a: str, b: str) -> bool:
    """Site URLs compare without case or a trailing slash (https://acme.atlassian.net/)."""
    return a.strip().rstrip("/").casefold() == b.strip().rstrip("/").casefold()


async def tell(
    notice: Callable[[str, LinkStatus], Awaitable[None]], user_id: str, link: LinkStatus
) -> None:
    """Send a DM about a link that has already changed: a failed DM must not undo or hide it."""
    try:
        await notice(user_id, link)
    except UpstreamError as exc:
        log.warning(
            "could not tell the user about their link", extra={"user": user_id, "error": str(exc)}
        )


def _email(value: str | None) -> str:
    return (value or "").strip().casefold()


class AccountLinking:
    """Links each Slack user to their own Atlassian account; nobody can link someone else,
    because the state that completes a link is bound to the Slack user who ran connect."""

    def __init__(
        self,
        *,
        atlassian: AtlassianOAuth,
        grants: SealedGrants,
        states: LinkStates,
        clock: Clock,
        directory: Directory,
        notices: LinkNotices,
        auditor: Auditor,
        site_url: str,
        require_email_match: bool,
    ) -> None:
        self._atlassian = atlassian
        self._grants = grants
        self._states = states
        self._clock = clock
        self._directory = directory
        self._notices = notices
        self._auditor = auditor
        self._site_url = site_url.rstrip("/")
        self._require_email_match = require_email_match

    @property
    def site_url(self) -> str:
        return self._site_url

    async def start(self, team_id: str, user_id: str) -> ConnectStart:
        """A fresh single-use state bound to this team and user, and the URL that carries it."""
        state = secrets.token_urlsafe(32)
        now = self._clock.now()
        await self._states.put(state, PendingLink(team_id, user_id, now), STATE_TTL.total_seconds())
        try:
            current = await self.status(user_id)
        except SecretError:
            # Sealed with a key no longer configured: connecting again is the way out of that.
            log.warning("a stored link cannot be decrypted", extra={"user": user_id})
            current = None
        return ConnectStart(
            authorize_url=self._atlassian.authorize_url(state, REQUESTED_SCOPES),
            expires_at=now + STATE_TTL,
            current=current,
        )

    async def complete(self, reply: AuthorizationReply) -> LinkStatus:
        """Finish a link from the callback; raises a LinkError or UpstreamError and stores
        nothing when any check fails."""
        # The state goes first and is used up whatever happens next: it is the CSRF check,
        # and it says which Slack user this is.
        pending = await self._states.take(reply.state)
        # The store expires states by its own clock; ours is checked too, so that a state can
        # never outlive its 10 minutes whatever the store does.
        if pending is None or self._clock.now() - pending.created_at > STATE_TTL:
            raise LinkStateInvalid()
        try:
            return await self._link(pending, reply)
        except LinkError as exc:
            reason = exc.reason if isinstance(exc, LinkAttemptFailed) else type(exc).__name__
            log.info("link attempt failed", extra={"user": pending.user_id, "reason": reason})
            await self._auditor.record(
                AuditEvent(
                    actor=Actor(slack_id=pending.user_id),
                    action="link.failed",
                    target=f"site:{self._site_url}",
                    reason=reason,
                )
            )
            raise

    async def _link(self, pending: PendingLink, reply: AuthorizationReply) -> LinkStatus:
        if reply.error is not None:
            log.info(
                "Atlassian sent an error back",
                extra={"error": reply.error, "description": (reply.error_description or "")[:200]},
            )
            if reply.error == "access_denied":
                raise ConsentDenied()
            raise AuthorizeFailed(reply.error)
        if not reply.code:
            raise BadCallback("neither code nor error")
        tokens = await self._atlassian.exchange_code(reply.code)
        if tokens.scopes is not None:
            missing = [scope for scope in ESSENTIAL_SCOPES if scope not in tokens.scopes]
            if missing:
                raise MissingScope(missing)
        if not tokens.refresh_token:
            # offline_access was granted (or not reported), yet no refresh token came back.
            raise UpstreamUnavailable("Atlassian's token answer has no refresh token")
        site = self._granted_site(await self._atlassian.accessible_resources(tokens.access_token))
        profile = await self._atlassian.me(tokens.access_token)
        if self._require_email_match:
            await self._check_email(pending.user_id, profile)
        now = self._clock.now()
        grant = Grant(
            team_id=pending.team_id,
            user_id=pending.user_id,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=now + timedelta(seconds=tokens.expires_in),
            # Without `scope` in the answer, the site's scopes are the best account of it.
            scopes=tokens.scopes if tokens.scopes is not None else site.scopes | {"offline_access"},
            cloud_id=site.id,
            site_url=site.url.rstrip("/"),
            account_id=profile.account_id,
            name=profile.name,
            email=profile.email,
            linked_at=now,
            last_refreshed_at=now,
        )
        written = await self._grants.link(grant)
        if written.held_by is not None:
            raise AccountTaken()
        link = LinkStatus.of(grant)
        await self._auditor.record(
            AuditEvent(
                actor=Actor(pending.user_id, profile.account_id, profile.name),
                action="link.connected",
                target=f"atlassian:{profile.account_id}",
                details={
                    "site": link.site_url,
                    "cloud_id": link.cloud_id,
                    "scopes": " ".join(sorted(link.scopes)),
                    "missing_scopes": " ".join(link.missing_scopes),
                    "team": pending.team_id,
                },
            )
        )
        log.info("linked", extra={"user": pending.user_id, "account": profile.account_id})
        await tell(self._notices.linked, pending.user_id, link)
        return link

    def _granted_site(self, resources: list[Resource]) -> Resource:
        for resource in resources:
            if same_site(resource.url, self._site_url):
                return resource
        raise SiteNotGranted(self._site_url)

    async def _check_email(self, user_id: str, profile: Profile) -> None:
        slack_email = _email((await self._directory.user(user_id)).email)
        # A hidden email on either side cannot be matched, so it cannot be allowed.
        if not slack_email or slack_email != _email(profile.email):
            raise EmailMismatch()

    async def disconnect(self, user_id: str) -> LinkStatus | None:
        """Delete the caller's own grant; what it was, or None if there was none."""
        grant = await self._grants.delete(user_id)
        if grant is None:
            return None
        await self._auditor.record(
            AuditEvent(
                actor=Actor(user_id, grant.account_id, grant.name),
                action="link.disconnected",
                target=f"atlassian:{grant.account_id}",
                details={"site": grant.site_url, "cloud_id": grant.cloud_id},
            )
        )
        log.info("unlinked", extra={"user": user_id, "account": grant.account_id})
        return LinkStatus.of(grant)

    async def holder(self, account_id: str) -> str | None:
        """The Slack user whose link is this Atlassian account, if anyone's is."""
        return await self._grants.holder(account_id)

    async def status(self, user_id: str) -> LinkStatus | None:
        grant = await self._grants.get(user_id, recent_ok=True)
        return None if grant is None else LinkStatus.of(grant)
