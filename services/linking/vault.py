"""The token vault: a valid Atlassian access token per Slack user, refreshed exactly once.

Atlassian rotates refresh tokens, and presenting an old one outside its 10-minute reuse window
revokes the user's whole token family (atlassian-3lo.md §3). So a refresh follows ARCHITECTURE §7:

1. only under a lease named after the grant, shared by every process through the store
   (inside one process, coroutines queue on a local lock first, so one of them asks the store);
2. inside the lease, re-read the grant: if another process refreshed it meanwhile, use that;
3. write the new pair with a compare-and-set on the version read in step 2, before releasing;
4. on `invalid_grant` re-read and retry once (another writer may have rotated the pair), then
   mark the link broken, DM the user to connect again and audit it. A timeout is retried once
   with the same refresh token, which the reuse window accepts, since the first call may have
   rotated the pair without our hearing the answer.

Waiters poll the store while the lease is held elsewhere and return as soon as the stored grant
is good enough, so 50 callers cost one refresh and a few reads.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from services.audit.events import SYSTEM, AuditEvent, Auditor
from services.errors import (
    LinkBroken,
    LinkRefused,
    NotLinked,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.linking.atlassian import AtlassianOAuth
from services.linking.models import IDLE_REFRESH_AFTER, Grant, LinkStatus
from services.linking.ports import LinkNotices
from services.linking.sealed import SealedGrants
from services.linking.service import tell
from services.ports import Clock, Credential, Leases

log = logging.getLogger(__name__)

Wanted = Callable[[Grant], bool]

# The lease outlives the slowest refresh we allow (two token calls of at most ~25 s each);
# waiters give up a little after it would have expired on its own.
LEASE_SECONDS = 60.0
WAIT_SECONDS = 65.0
POLL_SECONDS = 0.05
IDLE_BATCH = 200


def credential(grant: Grant) -> Credential:
    return Credential(
        access_token=grant.access_token,
        cloud_id=grant.cloud_id,
        account_id=grant.account_id,
        scopes=grant.scopes,
    )


class _KeyedLocks:
    """One asyncio.Lock per key while anyone uses it (so the dict never grows unbounded)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class TokenVault:
    """`Credentials` for the ApprovalFlow client, and the idle-refresh job."""

    def __init__(
        self,
        *,
        atlassian: AtlassianOAuth,
        grants: SealedGrants,
        leases: Leases,
        clock: Clock,
        notices: LinkNotices,
        auditor: Auditor,
        lease_seconds: float = LEASE_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._atlassian = atlassian
        self._grants = grants
        self._leases = leases
        self._clock = clock
        self._notices = notices
        self._auditor = auditor
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._local = _KeyedLocks()

    # --- Credentials ---------------------------------------------------------------------

    async def access_token_for(self, user_id: str) -> Credential:
        """A token valid for at least 60 more seconds; raises NotLinked or LinkBroken."""

        def fresh(grant: Grant) -> bool:
            return not grant.expiring(self._clock.now())

        # The one read that may reuse a grant this process just read: a signature asks for a
        # token on every ApprovalFlow call, and a stale-but-fresh token is still valid (a 401
        # goes through after_rejection, which reads the store).
        grant = await self._current(user_id, recent_ok=True)
        if not fresh(grant):
            grant = await self._refreshed(user_id, fresh, "expiring")
        return credential(grant)

    async def after_rejection(self, user_id: str, rejected: Credential) -> Credential:
        """The API answered 401 to `rejected`: a different, fresh token, refreshing once if
        nobody has yet; raises LinkBroken when the refresh is refused too."""

        def replaced(grant: Grant) -> bool:
            return grant.access_token != rejected.access_token and not grant.expiring(
                self._clock.now()
            )

        return credential(await self._refreshed(user_id, replaced, "rejected"))

    # --- the idle-refresh job ------------------------------------------------------------

    async def refresh_idle(self) -> int:
        """Refresh grants not refreshed for 30 days (Atlassian drops them after 90 idle days).
        Returns how many were refreshed; an outage stops the run (the next run retries)."""
        cutoff = self._clock.now() - IDLE_REFRESH_AFTER
        done = 0
        for user_id in await self._grants.idle(cutoff, IDLE_BATCH):

            def recent(grant: Grant, cutoff: datetime = cutoff) -> bool:
                return grant.last_refreshed_at > cutoff

            try:
                await self._refreshed(user_id, recent, "idle")
            except (NotLinked, LinkBroken):
                continue  # disconnected meanwhile, or broken now (and the user was told)
            done += 1
        if done:
            log.info("idle links refreshed", extra={"count": done})
        return done

    # --- the refresh protocol ------------------------------------------------------------

    async def _current(self, user_id: str, *, recent_ok: bool = False) -> Grant:
        grant = await self._grants.get(user_id, recent_ok=recent_ok)
        if grant is None:
            raise NotLinked()
        if grant.broken:
            raise LinkBroken()
        return grant

    async def _refreshed(self, user_id: str, wanted: Wanted, reason: str) -> Grant:
        """A grant satisfying `wanted`, refreshing it at most once across every process."""
        async with self._local.hold(user_id):
            grant = await self._current(user_id)
            if wanted(grant):
                return grant  # a coroutine ahead of us in this process refreshed it
            return await self._under_lease(user_id, wanted, reason)

    async def _under_lease(self, user_id: str, wanted: Wanted, reason: str) -> Grant:
        name = f"link-refresh:{user_id}"
        owner = secrets.token_hex(8)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_seconds
        while not await self._leases.acquire(name, owner, self._lease_seconds):
            # Another process is refreshing this grant; its result serves us as well.
            grant = await self._current(user_id)
            if wanted(grant):
                return grant
            if loop.time() >= deadline:
                raise UpstreamTimeout("another refresh of this Atlassian link is taking too long")
            await asyncio.sleep(self._poll_seconds)
        try:
            return await self._refresh(user_id, wanted, reason)
        finally:
            await self._leases.release(name, owner)

    async def _refresh(self, user_id: str, wanted: Wanted, reason: str) -> Grant:
        # Re-read inside the lease: the holder before us may have refreshed already.
        grant = await self._current(user_id)
        if wanted(grant):
            return grant
        retried = False
        while True:
            try:
                tokens = await self._atlassian.refresh(grant.refresh_token)
            except LinkRefused as exc:
                if retried:
                    raise await self._break(grant, exc.error) from None
                retried = True
                grant = await self._current(user_id)
                if wanted(grant):
                    return grant
                log.info("refresh refused; retrying once", extra={"user": user_id})
                continue
            except UpstreamTimeout:
                if retried:
                    raise
                retried = True
                continue
            updated = await self._grants.replace(grant.refreshed(tokens, self._clock.now()))
            if updated is not None:
                log.info("link refreshed", extra={"user": user_id, "reason": reason})
                return updated
            # Someone wrote first (our lease ran out, or the user linked again or left):
            # what is stored now wins over the pair we hold.
            current = await self._current(user_id)
            if wanted(current):
                return current
            raise UpstreamUnavailable("the Atlassian link changed while it was being refreshed")

    async def _break(self, grant: Grant, error: str) -> LinkBroken:
        """Mark the link broken (once), tell the user and audit it; the error to raise."""
        now = self._clock.now()
        broken = await self._grants.replace(grant.broken_now(now, f"refresh refused: {error}"))
        if broken is None:
            return LinkBroken()  # changed meanwhile: whoever changed it has told the user
        log.warning("link broken", extra={"user": grant.user_id, "error": error})
        await self._auditor.record(
            AuditEvent(
                actor=SYSTEM,
                action="link.broken",
                target=f"atlassian:{grant.account_id}",
                reason=f"Atlassian refused the refresh ({error})",
                details={"slack_user": grant.user_id, "site": grant.site_url},
            )
        )
        await tell(self._notices.broken, grant.user_id, LinkStatus.of(broken))
        return LinkBroken()
