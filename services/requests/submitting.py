"""The submit as the signer, and settling it: done, failed (pending again), or not yet known."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from services.approvalflow.gateway import Sleep
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import (
    Submission,
    TargetSnapshot,
    submit_target,
    take_snapshot,
)
from services.errors import (
    ApprovalsError,
    NoneSubmitted,
    NotFound,
    TransitionRefused,
    UpstreamError,
)
from services.ports import Clock
from services.requests.changes import apply, apply_by_id
from services.requests.model import ApprovalRequest, Index, PageOutcome, SubmitAttempt
from services.requests.outcomes import SubmitFailed, SubmitInterrupted, Submitted, SubmitUnknown
from services.requests.reporter import Reporter, actor_of
from services.requests.settings import RequestSettings
from services.requests.store import RequestStore

log = logging.getLogger(__name__)


class Submits:
    """Submits a signed request with the signer's own token, exactly once, and settles it."""

    def __init__(
        self,
        *,
        store: RequestStore,
        api: ApprovalFlowApi,
        reporter: Reporter,
        clock: Clock,
        settings: RequestSettings,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._store = store
        self._api = api
        self._reporter = reporter
        self._clock = clock
        self._settings = settings
        self._sleep = sleep  # between renewals of a submit's claim; tests step it by hand

    async def submit(self, request: ApprovalRequest, attempt: SubmitAttempt) -> Submitted:
        async with self._renewing(request, attempt.attempt_id):
            try:
                submission = await submit_target(self._api, attempt.signer.slack_id, request.target)
            except ApprovalsError as exc:
                return await self._failed(request, attempt, exc)
            if not submission.submitted:
                return await self._failed(
                    request,
                    attempt,
                    NoneSubmitted(tuple(page_outcomes(submission, request.snapshot))),
                )
            return await self.submitted(
                request,
                attempt,
                page_outcomes(submission, request.snapshot),
                None,
                "request.submit.succeeded",
            )

    @contextlib.asynccontextmanager
    async def _renewing(self, request: ApprovalRequest, attempt_id: str) -> AsyncIterator[None]:
        """Renew the submit's claim while this process works on it (ApprovalFlow may take long
        to answer), so that only a submit whose process died runs out of lease. Whatever the
        body does (returns, raises, is cancelled), the renewals stop and are awaited here:
        none outlives the attempt."""
        renewals = asyncio.create_task(
            self._renew_lease(request, attempt_id), name=f"submit-lease:{request.id}"
        )
        try:
            yield
        finally:
            renewals.cancel()
            [outcome] = await asyncio.gather(renewals, return_exceptions=True)
            if isinstance(outcome, Exception):
                log.error(
                    "submit lease renewals failed", exc_info=outcome, extra={"request": request.id}
                )

    async def _renew_lease(self, request: ApprovalRequest, attempt_id: str) -> None:
        lease = timedelta(seconds=self._settings.submit_lease_seconds)
        current = request
        while True:
            await self._sleep(self._settings.submit_heartbeat_seconds)
            renew = functools.partial(
                ApprovalRequest.renew_lease,
                attempt_id=attempt_id,
                lease_until=self._clock.now() + lease,
            )
            try:
                current = await apply(self._store, current, renew)
            except (TransitionRefused, NotFound):
                return  # settled, or taken over after all: nothing left to hold
            except ApprovalsError as exc:
                # The next renewal may get through; three fit in one lease.
                log.warning(
                    "submit lease not renewed", extra={"request": request.id, "error": str(exc)}
                )

    async def submitted(
        self,
        request: ApprovalRequest,
        attempt: SubmitAttempt,
        outcomes: Sequence[PageOutcome],
        unconfirmed: str | None,
        action: str,
        *,
        signer_waiting: bool = True,
    ) -> Submitted:
        """Record a submit that went through: the request SUBMITTED and tracked, the audit
        entry, then the news (after the signer's answer when `signer_waiting`); the outcome.
        `unconfirmed`: the error of a submit ApprovalFlow did not confirm in time but shows as
        done."""
        told = Submitted(request, attempt, tuple(outcomes), unconfirmed)
        note = self._reporter.kept_note(told) if unconfirmed is not None else None
        interval = self._settings.poll_interval_seconds
        poll_at = self._clock.now() + timedelta(seconds=interval)

        def finish(current: ApprovalRequest) -> ApprovalRequest:
            return current.finish_submit(
                attempt.attempt_id,
                outcomes,
                poller=attempt.signer.slack_id,
                poll_at=poll_at,
                interval_seconds=interval,
                note=note,
            )

        try:
            done = await apply(self._store, request, finish)
        except TransitionRefused:
            # Its lease ran out and the recovery job took it over: that job reports it.
            log.warning("submit finished after being taken over", extra={"request": request.id})
            return replace(told, request=await self._store.get(request.id) or request)
        submitted = [o.page_id for o in outcomes if o.submitted]
        skipped = [o for o in outcomes if not o.submitted]
        await self._reporter.audit(
            actor_of(attempt.signer),
            action,
            request,
            reason=note or "",
            details={
                "submitted": ",".join(submitted),
                "skipped": ",".join(o.page_id for o in skipped),
                "attempt": attempt.attempt_id,
            },
        )
        told = replace(told, request=done)
        if signer_waiting:
            await self._reporter.announce_after_answer(told)
            return told
        return replace(told, request=await self._reporter.announce(told))

    async def _failed(
        self, request: ApprovalRequest, attempt: SubmitAttempt, exc: ApprovalsError
    ) -> Submitted:
        """Settle a submit that raised: found done after all, pending again, or (when that
        cannot be told yet) left to the recovery job. Raises `exc` unless it was done."""
        if isinstance(exc, UpstreamError) and exc.outcome_unknown:
            # The call may have worked: look before saying anything (never resubmit blindly).
            outcomes = await self._check(request, attempt)
            if outcomes:
                return await self.submitted(
                    request, attempt, outcomes, str(exc), "request.submit.confirmed"
                )
            if outcomes is None:
                error = self._reporter.kept_note(SubmitUnknown(request, attempt, exc))
                try:
                    noted = await apply(
                        self._store, request, lambda r: r.note_error(attempt.attempt_id, error)
                    )
                except TransitionRefused:
                    raise exc from None
                await self._reporter.audit(
                    actor_of(attempt.signer), "request.submit.unknown", noted, reason=str(exc)
                )
                await self._reporter.publish(noted)
                raise exc
        await self._back_to_pending(request, SubmitFailed(request, attempt, exc), str(exc))
        raise exc

    async def _back_to_pending(
        self, request: ApprovalRequest, outcome: SubmitFailed | SubmitInterrupted, reason: str
    ) -> ApprovalRequest | None:
        attempt = outcome.attempt
        error = self._reporter.kept_note(outcome)
        try:
            pending = await apply(
                self._store, request, lambda r: r.fail_submit(attempt.attempt_id, error)
            )
        except TransitionRefused:
            return None  # taken over meanwhile; whoever holds it now reports
        await self._reporter.audit(
            actor_of(attempt.signer), "request.submit.failed", request, reason=reason
        )
        return await self._reporter.announce(replace(outcome, request=pending))

    async def _check(
        self, request: ApprovalRequest, attempt: SubmitAttempt
    ) -> tuple[PageOutcome, ...] | None:
        """Whether ApprovalFlow shows the attempt's pages submitted: their outcomes if so, ()
        if it shows none, None if it cannot be asked now. A page counts as submitted when it
        was submittable at signing and is now blocked as pending (or approved)."""
        try:
            fresh = await take_snapshot(self._api, attempt.signer.slack_id, request.target)
        except ApprovalsError as exc:
            log.warning("submit check failed", extra={"request": request.id, "error": str(exc)})
            return None
        pages = {page.page_id: page for page in fresh.pages}
        went = {
            page_id
            for page_id in attempt.page_ids
            if page_id in pages
            and pages[page_id].can_submit is False
            and _shows_submitted(pages[page_id].reason)
        }
        if not went:
            return ()
        return tuple(
            PageOutcome(
                page_id=page.page_id,
                title=_title(request.snapshot, page.page_id),
                submitted=page.page_id in went,
                reason=None if page.page_id in went else (page.reason or "not submitted"),
            )
            for page in fresh.pages
        )

    async def recover_stuck(self, now: datetime) -> list[ApprovalRequest]:
        """Settle submits whose process died mid-flow (their claim was not renewed in time):
        ApprovalFlow is asked what happened (the submit is never simply repeated); done ->
        SUBMITTED, not done -> pending again, can't tell -> asked again once the claim taken
        here runs out. Run by its own job (and by `track_due`)."""
        settled = []
        lease = timedelta(seconds=self._settings.submit_lease_seconds)
        for request_id in await self._store.due(Index.SUBMITTING, now):
            reclaim = functools.partial(
                ApprovalRequest.reclaim,
                now=now,
                attempt_id=secrets.token_hex(8),
                lease_until=now + lease,
            )
            try:
                request = await apply_by_id(self._store, request_id, reclaim)
            except (TransitionRefused, NotFound):
                continue
            attempt = request.attempt
            if attempt is None:
                continue
            async with self._renewing(request, attempt.attempt_id):
                recovered = await self._settle_interrupted(request, attempt)
            if recovered is not None:
                settled.append(recovered)
        return settled

    async def _settle_interrupted(
        self, request: ApprovalRequest, attempt: SubmitAttempt
    ) -> ApprovalRequest | None:
        """A taken-over submit as ApprovalFlow shows it: submitted, or pending again; None when
        ApprovalFlow cannot be asked now (its claim runs out again and a later run asks)."""
        outcomes = await self._check(request, attempt)
        if outcomes is None:
            return None
        if outcomes:
            recovered = await self.submitted(
                request,
                attempt,
                outcomes,
                None,
                "request.submit.recovered",
                signer_waiting=False,
            )
            return recovered.request
        return await self._back_to_pending(
            request, SubmitInterrupted(request, attempt), "interrupted"
        )


def page_outcomes(submission: Submission, known: TargetSnapshot) -> tuple[PageOutcome, ...]:
    """Each page's outcome, named by the title kept with the request (ApprovalFlow gives none)."""
    return tuple(
        PageOutcome(
            page_id=result.page_id,
            title=_title(known, result.page_id),
            submitted=result.success,
            reason=None if result.success else (result.reason or "skipped"),
        )
        for result in submission.results
    )


def _title(known: TargetSnapshot, page_id: str) -> str | None:
    page = next((page for page in known.pages if page.page_id == page_id), None)
    if page is None:
        return None
    return page.title or (f"restricted page {page_id}" if page.restricted else None)


def _shows_submitted(reason: str | None) -> bool:
    # Preflight's free-text reasons (§2.8): "Page already has a pending approval" is the
    # documented one; an approval that already happened would read "... approved ...".
    text = (reason or "").lower()
    return "pending" in text or "approved" in text
