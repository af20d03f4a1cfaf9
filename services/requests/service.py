"""Requests: a sign-off posted in Slack, signed with the Approval Token, submitted as the signer."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.approvalflow.endpoints import (
    PRODUCT_SCOPE,
    READ_APPROVAL,
    READ_CHANGE_SET,
    WRITE_APPROVAL,
    WRITE_CHANGE_SET,
)
from services.approvalflow.models import ChangeSet, PagePreflight
from services.approvalflow.page_url import parse_target
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import (
    ChangeSetTarget,
    PageTarget,
    Submission,
    Target,
    TargetSnapshot,
    submit_target,
    take_snapshot,
)
from services.audit.events import SYSTEM, Actor, AuditEvent, Auditor
from services.errors import (
    AlreadySigned,
    ApprovalsError,
    InputError,
    LinkError,
    MissingScope,
    NotAllowed,
    NotFound,
    NothingToSubmit,
    ReasonInvalid,
    RequestClosed,
    RequestError,
    SnapshotChanged,
    StoreError,
    UpstreamError,
)
from services.ports import Clock
from services.requests.model import (
    REASON_MAX,
    REASON_MIN,
    ApprovalRequest,
    Decision,
    PageOutcome,
    Signature,
    Signer,
    Status,
    new_request_id,
    normalise_request_id,
    signature_meaning,
)
from services.requests.ports import (
    GroupMembers,
    Identities,
    LinkedIdentity,
    Publisher,
    SignatureCodes,
    SigningForm,
    TrackingChange,
)
from services.requests.store import Claim, RequestStore, SubmitAttempt, Tracked, Watch

log = logging.getLogger(__name__)

# Audit actions (target "request:<id>"; never a code or token in any field):
#   request.created                     the requester, with the target and snapshot digest
#   request.signature.recorded          the signer; meaning; reason = a rejection's reason
#   request.sign.refused                a signer who is not an allowed reviewer (a forged or
#                                       stale button is worth knowing about, 11.300(d))
#   request.submit.succeeded / .confirmed (a timed-out submit that shows as done) /
#     .recovered (a submit interrupted by a restart, found done) / .failed / .unknown
#   request.expired / request.review.changed   actor: the bot
#   request.watch.added / request.watch.removed

# Every scope a signature's calls need: the fresh snapshot (read) and the submit (write),
# approvalflow-api.md §1.2.
SIGNING_SCOPES: dict[str, frozenset[str]] = {
    "change_set": frozenset({PRODUCT_SCOPE, READ_CHANGE_SET, WRITE_CHANGE_SET}),
    "page": frozenset({PRODUCT_SCOPE, READ_APPROVAL, WRITE_APPROVAL}),
}
WATCH_SCOPES = frozenset({PRODUCT_SCOPE, READ_CHANGE_SET})

# Review states after which nothing more happens to a submit (approvalflow-api.md §4.2), plus
# the two the bot infers: an archived change set and a deleted page.
FINAL_STATES = frozenset({"all_approved", "has_rejections", "stale", "archived", "deleted"})

_DIGEST = re.compile(r"[0-9a-f]{64}")
_SPACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_TRIES = 8  # 28^4 ids: a clash is rare, eight in a row means something else is wrong
_SHOWN_PAGES = 10
COMMENT_MAX = 280  # an approval's optional comment, as long as a reason may be


@dataclass(frozen=True)
class RequestSettings:
    """What the requests feature needs of §5, and its own timings (not configuration)."""

    allow_self_approval: bool = False  # ALLOW_SELF_APPROVAL
    request_ttl_hours: float = 72  # REQUEST_TTL_HOURS
    reminder_hours: float = 24  # REMINDER_HOURS
    poll_interval_seconds: float = 60  # POLL_INTERVAL_SECONDS
    confluence_site_url: str | None = None  # CONFLUENCE_SITE_URL: pasted links must be there
    # A submit holding its claim longer than this is stuck (its process died): longer than the
    # ApprovalFlow client's write timeout (30 s + connect), so a live submit is never taken over.
    submit_lease_seconds: float = 120
    # A person's second window on a request waits this long for the first one's checks.
    signing_hold_seconds: float = 60
    # Tracking polls back off while nothing changes, up to this.
    max_poll_interval_seconds: float = 30 * 60


class Requests:
    """Implements `RequestService`: requests, signatures, the submit as the signer, the jobs.

    Construct it in the composition root (bot/wiring.py) as::

        Requests(
            store=RedisRequestStore(redis, keys),          # bot/stores/requests.py
            api=approvalflow_client,                       # ApprovalFlowClient
            tokens=approval_tokens,                        # ApprovalTokens
            identities=<linking's Identities adapter>,     # LinkedIdentity per Slack user
            groups=<usergroups.users.list adapter>,        # GroupMembers
            publisher=<handlers' Publisher>,
            auditor=audit_trail,                           # AuditTrail
            clock=SystemClock(),
            settings=RequestSettings(
                allow_self_approval=settings.allow_self_approval,
                request_ttl_hours=settings.request_ttl_hours,
                reminder_hours=settings.reminder_hours,
                poll_interval_seconds=settings.poll_interval_seconds,
                confluence_site_url=settings.confluence_site_url,
            ),
        )

    Jobs (each under its JobRunner lease; POLL_INTERVAL_SECONDS suits all four):
    `expire_due(now)`, `remind_due(now)`, `track_due(now)` (it also recovers submits stuck by
    a restart, via `recover_stuck`) and `poll_watched(now)`.

    The caller checks admin rights before `watch` / `unwatch` (AdminAccess.require). Every
    other check of ARCHITECTURE §6 is made here, on the server, at `sign`.
    """

    def __init__(
        self,
        *,
        store: RequestStore,
        api: ApprovalFlowApi,
        tokens: SignatureCodes,
        identities: Identities,
        groups: GroupMembers,
        publisher: Publisher,
        auditor: Auditor,
        clock: Clock,
        settings: RequestSettings,
    ) -> None:
        self._store = store
        self._api = api
        self._tokens = tokens
        self._identities = identities
        self._groups = groups
        self._publisher = publisher
        self._auditor = auditor
        self._clock = clock
        self._settings = settings

    # -- requests ----------------------------------------------------------------------------

    async def create(
        self,
        requester: str,
        target_text: str,
        reviewers: tuple[str, ...],
        reviewer_groups: tuple[str, ...],
        channel: str,
    ) -> ApprovalRequest:
        target = parse_target(target_text, site_url=self._settings.confluence_site_url)
        reviewers = _unique(reviewers)
        if requester in reviewers and not self._settings.allow_self_approval:
            raise InputError(
                "You cannot name yourself as a reviewer: someone else must sign your request. "
                "Name other reviewers, or none so that anyone else in the channel may sign."
            )
        identity = await self._identities.identity(requester)
        change_set = None
        if isinstance(target, ChangeSetTarget):
            change_set = await self._api.change_set_detail(requester, target.change_set_id)
        snapshot = await take_snapshot(self._api, requester, target)
        return await self._post(
            requester,
            identity,
            snapshot,
            change_set,
            reviewers,
            _unique(reviewer_groups),
            channel,
            "command",
        )

    async def _post(
        self,
        requester: str,
        identity: LinkedIdentity,
        snapshot: TargetSnapshot,
        change_set: ChangeSet | None,
        reviewers: tuple[str, ...],
        reviewer_groups: tuple[str, ...],
        channel: str,
        source: str,
    ) -> ApprovalRequest:
        if snapshot.archived or not snapshot.submittable:
            raise _nothing_to_submit(snapshot)
        now = self._clock.now()
        ttl = timedelta(hours=self._settings.request_ttl_hours)
        remind = timedelta(hours=self._settings.reminder_hours)
        request = ApprovalRequest(
            id="",
            target=snapshot.target,
            title=snapshot.title or str(snapshot.target).capitalize(),
            requester=requester,
            reviewers=reviewers,
            reviewer_groups=reviewer_groups,
            channel=channel,
            created_at=now,
            expires_at=now + ttl,
            snapshot=snapshot,
            summary=change_set.summary if change_set is not None else None,
            reference_url=change_set.reference_url if change_set is not None else None,
            source=source,
        )
        for _ in range(_ID_TRIES):
            request = request.with_changes(id=new_request_id())
            if await self._store.create(request, now + remind if remind < ttl else None):
                break
        else:
            raise StoreError("no free request id could be drawn (the id index is full?)")
        await self._audit(
            Actor(requester, identity.account_id, identity.name),
            "request.created",
            request,
            details={
                "target": str(request.target),
                "snapshot_digest": snapshot.digest,
                "submittable": str(len(snapshot.submittable)),
                "channel": channel,
                "reviewers": ",".join(reviewers),
                "reviewer_groups": ",".join(reviewer_groups),
                "source": source,
            },
        )
        return await self._publish(request)

    async def get(self, request_id: str) -> ApprovalRequest:
        wanted = _request_id(request_id)
        request = await self._store.get(wanted)
        if request is None:
            raise NotFound(
                f"There is no request {wanted}. Check the id on the request message, or run "
                "/approvals pending to see what you can sign."
            )
        return request

    async def pending_for(self, user: str) -> list[ApprovalRequest]:
        now = self._clock.now()
        requests = await self._store.get_many(await self._store.pending_ids())
        members: dict[str, frozenset[str]] = {}
        mine = []
        for request in requests:
            if request.status is not Status.PENDING or request.expires_at <= now:
                continue
            if any(s.signer.slack_id == user for s in request.signatures):
                continue
            if await self._may_sign(request, user, members):
                mine.append(request)
        return sorted(mine, key=lambda r: (r.created_at, r.id))

    # -- signing -----------------------------------------------------------------------------

    async def open_for_signing(self, request_id: str, user: str, decision: Decision) -> SigningForm:
        decision = _decision(decision)
        request = await self.get(request_id)
        now = self._clock.now()
        signed = _signature_of(request, user)
        if signed is not None:
            raise _already_signed(request, signed)
        if request.status is not Status.PENDING or request.expires_at <= now:
            raise _closed(request, now)
        _, snapshot = await self._checks(request, user)
        if decision is Decision.APPROVE and not snapshot.submittable:
            raise await self._nothing_left(request, user, snapshot)
        return SigningForm(
            request=request,
            decision=decision,
            snapshot=snapshot,
            meaning=signature_meaning(decision, _page_count(snapshot)),
            changed_since_request=snapshot.digest != request.snapshot.digest,
        )

    async def sign(
        self,
        request_id: str,
        user: str,
        decision: Decision,
        code: str,
        comment: str,
        confirmed_digest: str,
    ) -> ApprovalRequest:
        wanted = _request_id(request_id)
        decision = _decision(decision)
        comment = comment.strip()
        _check_comment(decision, comment)
        if not _DIGEST.fullmatch(confirmed_digest):
            raise InputError(
                "This form is not one the bot opened. Open it again from the request message."
            )
        now = self._clock.now()
        hold = now + timedelta(seconds=self._settings.signing_hold_seconds)
        opening = await self._store.open_signing(wanted, user, now, hold)
        request = _opened(wanted, user, opening.claim, opening.request, now)
        try:
            if request.expires_at <= now:
                raise _closed(request, now)
            identity, snapshot = await self._checks(request, user)
            if snapshot.digest != confirmed_digest:
                raise SnapshotChanged(
                    f"What you confirmed is not what {request.id} would sign now: its pages "
                    "changed since the form was opened. Check the pages as they are now and "
                    "sign again.",
                    snapshot,
                )
            if decision is Decision.APPROVE and not snapshot.submittable:
                raise await self._nothing_left(request, user, snapshot)
            # Last, so a refusal above never uses up the person's code.
            await self._tokens.verify_for_signature(user, code)
        except BaseException:
            # Let the person try again at once (the slot would otherwise wait out its hold).
            await self._store.release_signing(wanted, user)
            raise
        signer = Signer(user, identity.account_id, identity.name)
        signature = Signature(
            signer=signer,
            decision=decision,
            meaning=signature_meaning(decision, _page_count(snapshot)),
            comment=comment,
            signed_at=self._clock.now(),
            snapshot_digest=snapshot.digest,
        )
        if decision is Decision.REJECT:
            return await self._reject(request, signature)
        attempt = SubmitAttempt(
            attempt_id=secrets.token_hex(8),
            signer=signer,
            started_at=signature.signed_at,
            page_ids=tuple(page.page_id for page in snapshot.submittable),
        )
        lease = signature.signed_at + timedelta(seconds=self._settings.submit_lease_seconds)
        claim = await self._store.begin_approval(request.id, signature, attempt, lease)
        if claim is not Claim.OK:
            raise await self._lost(request.id, user, claim)
        await self._audit_signature(request, signature)
        signed = request.with_changes(
            status=Status.SUBMITTING,
            signatures=(*request.signatures, signature),
            last_error=None,
        )
        return await self._submit(signed, attempt)

    async def _checks(
        self, request: ApprovalRequest, user: str
    ) -> tuple[LinkedIdentity, TargetSnapshot]:
        """Reviewer, link and scopes, then the target as the signer's own token sees it now."""
        await self._check_reviewer(request, user)
        identity = await self._identities.identity(user)
        needed = SIGNING_SCOPES[request.target.kind]
        missing = needed - identity.scopes
        if missing:
            raise MissingScope(sorted(missing, key=lambda s: (s != PRODUCT_SCOPE, s)))
        snapshot = await take_snapshot(self._api, user, request.target)
        return identity, snapshot

    async def _check_reviewer(self, request: ApprovalRequest, user: str) -> None:
        if user == request.requester and not self._settings.allow_self_approval:
            raise NotAllowed(
                f"You asked for {request.id}, so someone else must sign it: a requester cannot "
                "sign their own request."
            )
        if await self._may_sign(request, user, {}):
            return
        await self._audit(
            Actor(user),
            "request.sign.refused",
            request,
            reason="not a reviewer of this request",
        )
        raise NotAllowed(
            f"Only the reviewers named on {request.id} can sign it, and you are not one of "
            "them. Ask the requester to post a new request naming you if you should sign."
        )

    async def _may_sign(
        self, request: ApprovalRequest, user: str, members: dict[str, frozenset[str]]
    ) -> bool:
        if user == request.requester and not self._settings.allow_self_approval:
            return False
        if not request.reviewers and not request.reviewer_groups:
            return True  # no reviewers named: anyone (but the requester) may sign
        if user in request.reviewers:
            return True
        for group in request.reviewer_groups:
            if group not in members:
                members[group] = await self._groups.members(group)
            if user in members[group]:
                return True
        return False

    async def _reject(self, request: ApprovalRequest, signature: Signature) -> ApprovalRequest:
        claim = await self._store.record_rejection(request.id, signature)
        if claim is not Claim.OK:
            raise await self._lost(request.id, signature.signer.slack_id, claim)
        await self._audit_signature(request, signature)
        rejected = request.with_changes(
            status=Status.REJECTED,
            signatures=(*request.signatures, signature),
            last_error=None,
        )
        who, when = signature.signer.name, _utc(signature.signed_at)
        await self._announce(
            rejected,
            f"{who} rejected this at {when}: “{signature.meaning}”. Reason: {signature.comment}\n"
            "Nothing was submitted; the change set is left as it is.",
            f"Your request {rejected.id} ({rejected.title}) was rejected by {who} at {when}. "
            f"Reason: {signature.comment}",
        )
        return rejected

    async def _nothing_left(
        self, request: ApprovalRequest, user: str, snapshot: TargetSnapshot
    ) -> RequestError | NotFound:
        """Nothing is submittable now: most often because another reviewer just approved (and
        submitted) it, which is what to say then; else what blocks the pages."""
        current = await self._store.get(request.id)
        if current is not None and current.status is not Status.PENDING:
            signed = _signature_of(current, user)
            if signed is not None:
                return _already_signed(current, signed)
            return _closed(current, self._clock.now())
        return _nothing_left(request, snapshot)

    async def _lost(self, request_id: str, user: str, claim: Claim) -> RequestError | NotFound:
        """The error for a signature that lost a race after its checks passed."""
        current = await self._store.get(request_id)
        if current is None or claim is Claim.MISSING:
            return NotFound(f"There is no request {request_id} any more.")
        signed = _signature_of(current, user)
        if signed is not None:
            return _already_signed(current, signed)
        return _closed(current, self._clock.now())

    # -- the submit --------------------------------------------------------------------------

    async def _submit(self, request: ApprovalRequest, attempt: SubmitAttempt) -> ApprovalRequest:
        try:
            submission = await submit_target(self._api, attempt.signer.slack_id, request.target)
        except ApprovalsError as exc:
            return await self._submit_failed(request, attempt, exc)
        if not submission.submitted:
            return await self._submit_failed(request, attempt, _none_submitted(submission))
        return await self._submitted(
            request, attempt, _outcomes(submission), None, "request.submit.succeeded"
        )

    async def _submitted(
        self,
        request: ApprovalRequest,
        attempt: SubmitAttempt,
        outcomes: Sequence[PageOutcome],
        note: str | None,
        action: str,
    ) -> ApprovalRequest:
        interval = self._settings.poll_interval_seconds
        finished = await self._store.finish_submit(
            request.id,
            attempt.attempt_id,
            outcomes,
            poller=attempt.signer.slack_id,
            poll_at=self._clock.now() + timedelta(seconds=interval),
            interval_seconds=interval,
            note=note,
        )
        if not finished:
            # Its lease ran out and the recovery job took it over: that job reports it.
            log.warning("submit finished after being taken over", extra={"request": request.id})
            return await self._store.get(request.id) or request
        submitted = [o.page_id for o in outcomes if o.submitted]
        skipped = [o for o in outcomes if not o.submitted]
        await self._audit(
            _actor(attempt.signer),
            action,
            request,
            reason=note or "",
            details={
                "submitted": ",".join(submitted),
                "skipped": ",".join(o.page_id for o in skipped),
                "attempt": attempt.attempt_id,
            },
        )
        done = request.with_changes(
            status=Status.SUBMITTED, outcomes=tuple(outcomes), last_error=note
        )
        signer, when = attempt.signer.name, _utc(attempt.started_at)
        meaning = next(
            (s.meaning for s in request.signatures if s.signer == attempt.signer), "approved"
        )
        lines = [
            f"{signer} approved this at {when}: “{meaning}”.",
            f"Submitted for review in ApprovalFlow as {signer}: {_pages(len(submitted))}.",
        ]
        if skipped:
            lines.append(f"Skipped {_pages(len(skipped))}: " + _reasons(skipped) + ".")
        if note:
            lines.append(note)
        await self._announce(
            done,
            "\n".join(lines),
            f"Your request {done.id} ({done.title}) was approved by {signer} at {when}: "
            f"{_pages(len(submitted))} submitted for review"
            + (f", {len(skipped)} skipped." if skipped else "."),
        )
        return done

    async def _submit_failed(
        self, request: ApprovalRequest, attempt: SubmitAttempt, exc: ApprovalsError
    ) -> ApprovalRequest:
        """Settle a submit that raised: found done after all, pending again, or (when that
        cannot be told yet) left to the recovery job. Raises `exc` unless it was done."""
        signer, when = attempt.signer.name, _utc(attempt.started_at)
        if isinstance(exc, UpstreamError) and exc.outcome_unknown:
            # The call may have worked: look before saying anything (never resubmit blindly).
            outcomes = await self._check_submitted(request, attempt)
            if outcomes:
                note = (
                    f"ApprovalFlow did not confirm the submit in time ({_sentence(exc)}), "
                    "but it shows the pages submitted."
                )
                return await self._submitted(
                    request, attempt, outcomes, note, "request.submit.confirmed"
                )
            if outcomes is None:
                error = (
                    f"The submit by {signer} at {when} got no clear answer from ApprovalFlow "
                    f"({_sentence(exc)}). The bot checks whether it went through and will "
                    "update this message."
                )
                if await self._store.note_error(request.id, attempt.attempt_id, error):
                    await self._audit(
                        _actor(attempt.signer), "request.submit.unknown", request, reason=str(exc)
                    )
                    await self._publish(request.with_changes(last_error=error))
                raise exc
        error = (
            f"The submit by {signer} at {when} failed: {_sentence(exc)}. The request is pending "
            "again, so it can be signed again once that is fixed."
        )
        await self._back_to_pending(request, attempt, error, str(exc))
        raise exc

    async def _back_to_pending(
        self, request: ApprovalRequest, attempt: SubmitAttempt, error: str, reason: str
    ) -> ApprovalRequest | None:
        if not await self._store.fail_submit(request.id, attempt.attempt_id, error):
            return None  # taken over meanwhile; whoever holds it now reports
        await self._audit(_actor(attempt.signer), "request.submit.failed", request, reason=reason)
        pending = request.with_changes(
            status=Status.PENDING,
            signatures=tuple(s for s in request.signatures if s.signer != attempt.signer),
            last_error=error,
        )
        pending = await self._publish(pending)
        await self._publisher.thread_note(pending, error)
        return pending

    async def _check_submitted(
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
                title=None,
                submitted=page.page_id in went,
                reason=None if page.page_id in went else (page.reason or "not submitted"),
            )
            for page in fresh.pages
        )

    async def recover_stuck(self, now: datetime) -> list[ApprovalRequest]:
        """Settle submits whose process died mid-flow: ApprovalFlow is asked what happened (the
        submit is never simply repeated); done -> SUBMITTED, not done -> pending again, can't
        tell -> asked again next run. Run by `track_due`."""
        settled = []
        lease = timedelta(seconds=self._settings.submit_lease_seconds)
        for request_id in await self._store.stuck_submits(now):
            attempt = await self._store.reclaim_submit(
                request_id, now, secrets.token_hex(8), now + lease
            )
            request = await self._store.get(request_id) if attempt is not None else None
            if attempt is None or request is None:
                continue
            outcomes = await self._check_submitted(request, attempt)
            if outcomes is None:
                continue
            if outcomes:
                settled.append(
                    await self._submitted(
                        request, attempt, outcomes, None, "request.submit.recovered"
                    )
                )
                continue
            error = (
                f"The submit signed by {attempt.signer.name} at {_utc(attempt.started_at)} was "
                "interrupted (the bot restarted), and ApprovalFlow shows nothing submitted. The "
                "request is pending again, so it can be signed again."
            )
            pending = await self._back_to_pending(request, attempt, error, "interrupted")
            if pending is not None:
                settled.append(pending)
        return settled

    # -- jobs --------------------------------------------------------------------------------

    async def expire_due(self, now: datetime) -> list[ApprovalRequest]:
        expired = []
        for request_id in await self._store.due_expiry(now):
            if not await self._store.expire(request_id, now):
                continue
            request = await self._store.get(request_id)
            if request is None:
                continue
            await self._audit(
                SYSTEM,
                "request.expired",
                request,
                reason=f"no signature within {self._settings.request_ttl_hours:g} hours",
            )
            request = await self._publish(request)
            await self._publisher.tell(
                request.requester,
                request,
                f"Your request {request.id} ({request.title}) expired at "
                f"{_utc(request.expires_at)} without a signature. If it is still needed, post "
                f"a new one: /approvals request {request.target.id}",
            )
            expired.append(request)
        return expired

    async def remind_due(self, now: datetime) -> list[ApprovalRequest]:
        reminded = []
        for request_id in await self._store.due_reminders(now):
            if not await self._store.claim_reminder(request_id):
                continue
            request = await self._store.get(request_id)
            if request is None:
                continue
            await self._publisher.thread_note(
                request,
                f"Reminder: {request.id} is still waiting for a signature. It expires at "
                f"{_utc(request.expires_at)}.",
            )
            reminded.append(request)
        return reminded

    async def track_due(self, now: datetime) -> list[TrackingChange]:
        """Poll each submitted request that is due (and first recover stuck submits)."""
        await self.recover_stuck(now)
        changes = []
        hold = timedelta(seconds=self._settings.submit_lease_seconds)
        for request_id in await self._store.due_tracking(now):
            tracked = await self._store.claim_tracking(request_id, now, now + hold)
            if tracked is None:
                continue
            change = await self._poll(tracked, now)
            if change is not None:
                changes.append(change)
        return changes

    async def _poll(self, tracked: Tracked, now: datetime) -> TrackingChange | None:
        request = tracked.request
        previous = request.rollup_state
        base = self._settings.poll_interval_seconds
        try:
            current = await self._review_state(request, tracked.poller)
        except ApprovalsError as exc:
            log.warning("tracking poll failed", extra={"request": request.id, "error": str(exc)})
            current = None
        if current is None or current == previous:
            # Nothing new: wait longer next time.
            cap = max(self._settings.max_poll_interval_seconds, base)
            interval = min(max(tracked.interval_seconds, base) * 2, cap)
            await self._store.update_tracking(
                request.id, previous, interval, now + timedelta(seconds=interval)
            )
            return None
        final = current in FINAL_STATES
        next_poll = None if final else now + timedelta(seconds=base)
        if not await self._store.update_tracking(request.id, current, base, next_poll):
            return None
        updated = request.with_changes(
            rollup_state=current, status=Status.CLOSED if final else Status.SUBMITTED
        )
        await self._audit(
            SYSTEM,
            "request.review.changed",
            updated,
            details={"previous": previous or "", "current": current},
        )
        updated = await self._publish(updated)
        note = _review_note(updated, current)
        await self._publisher.thread_note(updated, note)
        if final:
            await self._publisher.tell(
                updated.requester, updated, f"{updated.id} ({updated.title}): {note}"
            )
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

    # -- watched spaces ----------------------------------------------------------------------

    async def watch(self, admin: str, space_id: str, channel: str) -> None:
        space_id = space_id.strip()
        if not _SPACE_ID.fullmatch(space_id):
            raise InputError(
                f"“{space_id[:40]}” is not a space id. Give the Confluence space id (a number "
                "like 98301, not the space key)."
            )
        identity = await self._identities.identity(admin)
        missing = WATCH_SCOPES - identity.scopes
        if missing:
            raise MissingScope(sorted(missing, key=lambda s: (s != PRODUCT_SCOPE, s)))
        # Listing now proves the space exists and that the watcher's token can read it.
        await self._api.list_change_sets(admin, space_id)
        await self._store.add_watch(Watch(space_id, admin, channel, self._clock.now()))
        await self._audit(
            Actor(admin, identity.account_id, identity.name),
            "request.watch.added",
            target=f"space:{space_id}",
            details={"channel": channel},
        )

    async def unwatch(self, admin: str, space_id: str) -> None:
        space_id = space_id.strip()
        if not await self._store.remove_watch(space_id):
            raise NotFound(f"Space {space_id[:40]} is not watched. Nothing was changed.")
        await self._audit(Actor(admin), "request.watch.removed", target=f"space:{space_id}")

    async def poll_watched(self, now: datetime) -> list[ApprovalRequest]:
        """A request for each new open change set of each watched space, each once.

        "New open" (approvalflow-api.md §2.1, §4.2): not archived and with rollup state `open`,
        i.e. created and with no page submitted yet, so a sign-off to submit it makes sense;
        and never claimed before for that space (watching posts those already waiting, too).
        """
        posted = []
        for watch in await self._store.watches():
            try:
                change_sets = await self._api.list_change_sets(watch.admin, watch.space_id)
                identity = await self._identities.identity(watch.admin)
            except ApprovalsError as exc:
                # One broken watch must not stop the others; the next run tries again.
                log.warning("watch poll failed", extra={"space": watch.space_id, "error": str(exc)})
                continue
            for change_set in change_sets:
                if change_set.archived or change_set.rollup_state != "open":
                    continue
                if not await self._store.claim_seen(watch.space_id, change_set.id):
                    continue
                request = await self._post_watched(watch, identity, change_set)
                if request is not None:
                    posted.append(request)
        return posted

    async def _post_watched(
        self, watch: Watch, identity: LinkedIdentity, change_set: ChangeSet
    ) -> ApprovalRequest | None:
        target = ChangeSetTarget(change_set.id)
        try:
            snapshot = await take_snapshot(self._api, watch.admin, target)
            return await self._post(
                watch.admin,
                identity,
                snapshot,
                change_set,
                (),
                (),
                watch.channel,
                f"watch:{watch.space_id}",
            )
        except NothingToSubmit:
            # Stays seen: an open set with nothing submittable is not posted on every poll.
            log.info("watched change set not posted", extra={"change_set": change_set.id})
            return None
        except ApprovalsError as exc:
            await self._store.forget_seen(watch.space_id, change_set.id)
            log.warning("watched change set failed", extra={"id": change_set.id, "error": str(exc)})
            return None

    # -- telling people ----------------------------------------------------------------------

    async def _publish(self, request: ApprovalRequest) -> ApprovalRequest:
        ts = await self._publisher.publish(request)
        if ts and ts != request.message_ts:
            await self._store.set_message(request.id, ts)
            request = request.with_changes(message_ts=ts)
        return request

    async def _announce(self, request: ApprovalRequest, note: str, dm: str) -> None:
        request = await self._publish(request)
        await self._publisher.thread_note(request, note)
        await self._publisher.tell(request.requester, request, dm)

    async def _audit_signature(self, request: ApprovalRequest, signature: Signature) -> None:
        await self._audit(
            _actor(signature.signer),
            "request.signature.recorded",
            request,
            meaning=signature.meaning,
            reason=signature.comment if signature.decision is Decision.REJECT else "",
            details={
                "decision": signature.decision.value,
                "signed_at": signature.signed_at.isoformat(),
                "snapshot_digest": signature.snapshot_digest,
                "target": str(request.target),
                "comment": signature.comment if signature.decision is Decision.APPROVE else "",
            },
        )

    async def _audit(
        self,
        actor: Actor,
        action: str,
        request: ApprovalRequest | None = None,
        *,
        target: str = "",
        meaning: str = "",
        reason: str = "",
        details: dict[str, str] | None = None,
    ) -> None:
        await self._auditor.record(
            AuditEvent(
                actor=actor,
                action=action,
                target=target or (f"request:{request.id}" if request is not None else ""),
                meaning=meaning,
                reason=reason,
                details=details or {},
            )
        )


# --- helpers (pure) --------------------------------------------------------------------------


def _utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _unique(ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.strip() for i in ids if i.strip()))


def _actor(signer: Signer) -> Actor:
    return Actor(signer.slack_id, signer.atlassian_id, signer.name)


def _pages(n: int) -> str:
    return "1 page" if n == 1 else f"{n} pages"


def _sentence(exc: Exception) -> str:
    return str(exc).strip().rstrip(".")


def _request_id(text: str) -> str:
    wanted = normalise_request_id(text)
    if wanted is None:
        shown = text.strip()[:20] or "(nothing)"
        raise InputError(f"“{shown}” is not a request id. Request ids look like AR-7K3Q.")
    return wanted


def _decision(value: object) -> Decision:
    # `is` comparisons below must never meet a bare "reject" string and take it for approve.
    try:
        return Decision(str(value))
    except ValueError:
        raise InputError("A decision is approve or reject.") from None


def _check_comment(decision: Decision, comment: str) -> None:
    if decision is Decision.REJECT:
        if not REASON_MIN <= len(comment) <= REASON_MAX:
            raise ReasonInvalid(
                f"A rejection needs a reason of {REASON_MIN}-{REASON_MAX} characters "
                f"(yours has {len(comment)}), so the requester knows what to change."
            )
    elif len(comment) > COMMENT_MAX:
        raise InputError(
            f"A comment is at most {COMMENT_MAX} characters (yours has {len(comment)})."
        )


def _page_count(snapshot: TargetSnapshot) -> int:
    return len(snapshot.submittable) or len(snapshot.pages)


def _signature_of(request: ApprovalRequest, user: str) -> Signature | None:
    return next((s for s in request.signatures if s.signer.slack_id == user), None)


def _opened(
    request_id: str, user: str, claim: Claim, request: ApprovalRequest | None, now: datetime
) -> ApprovalRequest:
    if request is None or claim is Claim.MISSING:
        raise NotFound(
            f"There is no request {request_id}. Check the id on the request message, or run "
            "/approvals pending to see what you can sign."
        )
    if claim is Claim.SIGNED:
        signed = _signature_of(request, user)
        if signed is not None:
            raise _already_signed(request, signed)
        raise AlreadySigned(f"You already signed {request.id}.")
    if claim is Claim.CLOSED:
        raise _closed(request, now)
    if claim is Claim.BUSY:
        raise AlreadySigned(
            f"You are already signing {request.id} in another window. Finish there, or try "
            "again in a minute."
        )
    return request


def _already_signed(request: ApprovalRequest, signature: Signature) -> AlreadySigned:
    verb = "approved" if signature.decision is Decision.APPROVE else "rejected"
    return AlreadySigned(
        f"You already {verb} {request.id} at {_utc(signature.signed_at)}. A person signs a "
        "request once."
    )


def _closed(request: ApprovalRequest, now: datetime) -> RequestError:
    last = request.signatures[-1] if request.signatures else None
    who = last.signer.name if last is not None else "someone"
    when = _utc(last.signed_at) if last is not None else ""
    match request.status:
        case Status.SUBMITTING:
            return AlreadySigned(
                f"{who} approved {request.id} a moment ago and it is being submitted now, so "
                "there is nothing left to sign."
            )
        case Status.SUBMITTED | Status.CLOSED:
            return RequestClosed(
                f"{request.id} was already approved by {who} at {when} and submitted for "
                "review, so there is nothing left to sign."
            )
        case Status.REJECTED:
            return RequestClosed(
                f"{request.id} was rejected by {who} at {when}, so there is nothing left to "
                "sign. The requester can post a new request."
            )
        case _ if request.status is Status.EXPIRED or request.expires_at <= now:
            return RequestClosed(
                f"{request.id} expired at {_utc(request.expires_at)} without a signature. Ask "
                "the requester to post a new request if it is still needed."
            )
        case _:
            return RequestClosed(f"{request.id} can no longer be signed.")


def _describe(target: Target, title: str | None) -> str:
    return f"{target} ({title})" if title else str(target)


def _blocked_lines(snapshot: TargetSnapshot) -> str:
    blocked = snapshot.blocked
    lines = [f"• page {p.page_id}: {p.reason or 'cannot be submitted'}" for p in blocked]
    shown = lines[:_SHOWN_PAGES]
    if len(lines) > _SHOWN_PAGES:
        shown.append(f"• +{len(lines) - _SHOWN_PAGES} more")
    return "\n".join(shown)


def _nothing_to_submit(snapshot: TargetSnapshot) -> NothingToSubmit:
    what = _describe(snapshot.target, snapshot.title)
    if snapshot.archived:
        return NothingToSubmit(
            f"{what} is archived, so nothing in it can be submitted and no request was posted."
        )
    return NothingToSubmit(
        f"Nothing in {what} can be submitted for review now, so no request was posted:\n"
        + _blocked_lines(snapshot)
    )


def _nothing_left(request: ApprovalRequest, snapshot: TargetSnapshot) -> NothingToSubmit:
    if snapshot.archived:
        return NothingToSubmit(
            f"{_describe(request.target, snapshot.title)} was archived since {request.id} was "
            "posted, so nothing can be submitted. Reject the request, or let it expire."
        )
    return NothingToSubmit(
        f"Nothing in {request.id} can be submitted now (it changed since it was posted):\n"
        + _blocked_lines(snapshot)
        + "\nReject the request, or ask the requester for a new one once this is fixed."
    )


def _none_submitted(submission: Submission) -> NothingToSubmit:
    reasons = _reasons(_outcomes(submission))
    return NothingToSubmit(f"ApprovalFlow submitted none of the pages ({reasons})")


def _outcomes(submission: Submission) -> tuple[PageOutcome, ...]:
    return tuple(
        PageOutcome(
            page_id=result.page_id,
            title=None,  # ApprovalFlow does not give page titles
            submitted=result.success,
            reason=None if result.success else (result.reason or "skipped"),
        )
        for result in submission.results
    )


def _reasons(outcomes: Sequence[PageOutcome]) -> str:
    parts = [f"page {o.page_id}: {o.reason or 'skipped'}" for o in outcomes if not o.submitted]
    return "; ".join(parts[:_SHOWN_PAGES]) + (
        f"; +{len(parts) - _SHOWN_PAGES} more" if len(parts) > _SHOWN_PAGES else ""
    )


def _shows_submitted(reason: str | None) -> bool:
    # Preflight's free-text reasons (§2.8): "Page already has a pending approval" is the
    # documented one; an approval that already happened would read "... approved ...".
    text = (reason or "").lower()
    return "pending" in text or "approved" in text


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


def _review_note(request: ApprovalRequest, state: str) -> str:
    again = f"/approvals request {request.target.id}"
    notes = {
        "open": "ApprovalFlow shows nothing under review any more (rollup state: open).",
        "in_review": "In review in ApprovalFlow: each page's workflow reviewers are asked to "
        "approve it.",
        "partially_approved": "Partially approved in ApprovalFlow: some pages are approved, "
        "others are still pending.",
        "all_approved": "Every page is approved in ApprovalFlow. Tracking ends here.",
        "has_rejections": "A page was rejected in ApprovalFlow; its feedback is on the page's "
        "ApprovalFlow byline. Tracking ends here.",
        "stale": "An approved page was edited after its approval, which voids that approval. "
        f"Post a new request to sign off the new version: {again}. Tracking ends here.",
        "archived": "The change set was archived in ApprovalFlow. Tracking ends here.",
        "deleted": "The page was deleted in Confluence. Tracking ends here.",
    }
    return notes.get(state, f"ApprovalFlow reports the review state “{state}”.")
