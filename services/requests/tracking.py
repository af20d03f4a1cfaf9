"""Tracking a submitted request's review in ApprovalFlow until it ends, and telling each change."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

from services.approvalflow.models import PagePreflight
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import PageTarget, Target
from services.audit.events import SYSTEM
from services.errors import ApprovalsError, LinkError, NotFound, TransitionRefused
from services.requests.changes import apply, apply_by_id
from services.requests.model import ApprovalRequest, Index
from services.requests.outcomes import ReviewChanged
from services.requests.ports import TrackingChange
from services.requests.reporter import Reporter
from services.requests.settings import RequestSettings
from services.requests.store import RequestStore
from services.requests.submitting import Submits

log = logging.getLogger(__name__)

# Review states after which nothing more happens to a submit (approvalflow-api.md §4.2), plus
# the two the bot infers: an archived change set and a deleted page.
FINAL_STATES = frozenset({"all_approved", "has_rejections", "stale", "archived", "deleted"})


class ReviewTracking:
    """Polls each submitted request's review state with backoff; stops when the review ends."""

    def __init__(
        self,
        *,
        store: RequestStore,
        api: ApprovalFlowApi,
        submits: Submits,
        reporter: Reporter,
        settings: RequestSettings,
    ) -> None:
        self._store = store
        self._api = api
        self._submits = submits
        self._reporter = reporter
        self._settings = settings

    async def track_due(self, now: datetime) -> list[TrackingChange]:
        """Poll each submitted request that is due (and first recover stuck submits)."""
        await self._submits.recover_stuck(now)
        changes = []
        hold = timedelta(seconds=self._settings.poll_claim_seconds)
        for request_id in await self._store.due(Index.TRACKING, now):
            try:
                tracked = await apply_by_id(
                    self._store, request_id, lambda r: r.claim_poll(now, now + hold)
                )
            except (TransitionRefused, NotFound):
                continue
            change = await self._poll(tracked, now)
            if change is not None:
                changes.append(change)
        return changes

    async def _poll(self, request: ApprovalRequest, now: datetime) -> TrackingChange | None:
        previous = request.rollup_state
        base = self._settings.poll_interval_seconds
        try:
            current = await self._review_state(request, request.poller or request.requester)
        except ApprovalsError as exc:
            log.warning("tracking poll failed", extra={"request": request.id, "error": str(exc)})
            current = None
        if current is None or current == previous:
            # Nothing new: wait longer next time.
            cap = max(self._settings.max_poll_interval_seconds, base)
            interval = min(max(request.poll_interval, base) * 2, cap)
            later = now + timedelta(seconds=interval)
            with contextlib.suppress(TransitionRefused):
                await apply(self._store, request, lambda r: r.track(previous, interval, later))
            return None
        final = current in FINAL_STATES
        next_poll = None if final else now + timedelta(seconds=base)
        try:
            updated = await apply(self._store, request, lambda r: r.track(current, base, next_poll))
        except TransitionRefused:
            return None
        await self._reporter.audit(
            SYSTEM,
            "request.review.changed",
            updated,
            details={"previous": previous or "", "current": current},
        )
        updated = await self._reporter.announce(ReviewChanged(updated, current, final))
        return TrackingChange(request=updated, previous=previous, current=current)

    async def _review_state(self, request: ApprovalRequest, poller: str) -> str | None:
        """The review state, read with the submitter's token (or, if that link no longer
        works, the requester's); None when ApprovalFlow's answer says nothing about it."""
        users = [poller] if poller == request.requester else [poller, request.requester]
        for user in users[:-1]:
            try:
                return await self._read_review(request.target, user)
            except LinkError as exc:
                log.info(
                    "tracking with the requester's token",
                    extra={"request": request.id, "error": str(exc)},
                )
        return await self._read_review(request.target, users[-1])

    async def _read_review(self, target: Target, user: str) -> str | None:
        if isinstance(target, PageTarget):
            return _page_review_state(await self._api.preflight_page(user, target.page_id))
        change_set = await self._api.change_set_detail(user, target.change_set_id)
        return "archived" if change_set.archived else change_set.rollup_state


def _page_review_state(checked: PagePreflight) -> str | None:
    """A single page's review state, read from its preflight (the API has no page status read,
    §2.10): blocked as pending -> in_review, as approved -> all_approved, deleted -> deleted;
    submittable again after our submit -> the review ended without an approval, which is read
    as has_rejections [inferred: a UI cancel by the submitter looks the same]. Blocked for any
    other reason says nothing about the review (None)."""
    reason = (checked.reason or "").lower()
    if checked.can_submit:
        return "has_rejections"
    if "pending" in reason:
        return "in_review"
    if "approved" in reason:
        return "all_approved"
    if "deleted" in reason:
        return "deleted"
    return None
