"""Requests: a sign-off posted in Slack, signed with the Approval Token, submitted as the signer."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta

from services.approvalflow.endpoints import (
    PRODUCT_SCOPE,
    READ_APPROVAL,
    READ_CHANGE_SET,
    WRITE_APPROVAL,
    WRITE_CHANGE_SET,
)
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import PageTarget, TargetSnapshot, take_snapshot
from services.audit.events import SYSTEM, Actor, Auditor
from services.confluence.endpoints import READ_PAGE
from services.confluence.ports import ConfluenceApi, ConfluenceSpace
from services.confluence.snapshots import with_confluence
from services.errors import (
    AlreadySigned,
    InputError,
    NotAllowed,
    NotFound,
    ReasonInvalid,
    RequestError,
    SnapshotChanged,
)
from services.ports import Clock
from services.requests.model import (
    COMMENT_MAX,
    REASON_MAX,
    REASON_MIN,
    ApprovalRequest,
    Decision,
    Signature,
    Signer,
    Status,
    normalise_request_id,
    signature_meaning,
)
from services.requests.ports import (
    GroupMembers,
    Identities,
    LinkedIdentity,
    PageChange,
    Publisher,
    SignatureCodes,
    SigningForm,
    TrackingChange,
)
from services.requests.posting import Posting
from services.requests.reporter import Reporter
from services.requests.settings import RequestSettings
from services.requests.store import Claim, RequestStore, SubmitAttempt
from services.requests.submitting import Submits
from services.requests.tracking import ReviewTracking
from services.requests.watching import Watching
from services.requests.wording import (
    already_signed,
    closed,
    missing_scope,
    no_such_request,
    nothing_left,
    utc,
)

log = logging.getLogger(__name__)

# Every scope a signature's calls need: the fresh snapshot (read) and the submit (write),
# approvalflow-api.md §1.2. A single page's version comes from Confluence, so signing one needs
# read:page:confluence too; a change set's versions are ApprovalFlow's, and its titles are kept
# with the request, so a link made before the bot asked for Confluence still signs those.
SIGNING_SCOPES: dict[str, frozenset[str]] = {
    "change_set": frozenset({PRODUCT_SCOPE, READ_CHANGE_SET, WRITE_CHANGE_SET}),
    "page": frozenset({PRODUCT_SCOPE, READ_APPROVAL, WRITE_APPROVAL, READ_PAGE}),
}

_DIGEST = re.compile(r"[0-9a-f]{64}")


class Requests:
    """Implements `RequestService`: requests, signatures, the submit as the signer, the jobs.

    Signing is here; the rest is in parts this builds: `Posting` (new requests), `Submits`
    (the submit and settling it), `ReviewTracking`, `Watching`, and `Reporter` (the message,
    thread, DMs and audit entries every part writes).

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
        confluence: ConfluenceApi | None = None,
    ) -> None:
        self._store = store
        self._api = api
        self._confluence = confluence
        self._tokens = tokens
        self._identities = identities
        self._groups = groups
        self._clock = clock
        self._settings = settings
        self._reporter = Reporter(store, publisher, auditor)
        self._posting = Posting(
            store=store,
            api=api,
            identities=identities,
            reporter=self._reporter,
            clock=clock,
            settings=settings,
            confluence=confluence,
        )
        self._submits = Submits(
            store=store, api=api, reporter=self._reporter, clock=clock, settings=settings
        )
        self._tracking = ReviewTracking(
            store=store,
            api=api,
            submits=self._submits,
            reporter=self._reporter,
            settings=settings,
        )
        self._watching = Watching(
            store=store,
            api=api,
            identities=identities,
            posting=self._posting,
            reporter=self._reporter,
            clock=clock,
            confluence=confluence,
        )

    # -- the parts ---------------------------------------------------------------------------

    async def create(
        self,
        requester: str,
        target_text: str,
        reviewers: tuple[str, ...],
        reviewer_groups: tuple[str, ...],
        channel: str,
    ) -> ApprovalRequest:
        return await self._posting.create(
            requester, target_text, reviewers, reviewer_groups, channel
        )

    async def recover_stuck(self, now: datetime) -> list[ApprovalRequest]:
        return await self._submits.recover_stuck(now)

    async def track_due(self, now: datetime) -> list[TrackingChange]:
        return await self._tracking.track_due(now)

    async def watch(self, admin: str, space: str, channel: str) -> ConfluenceSpace:
        return await self._watching.watch(admin, space, channel)

    async def unwatch(self, admin: str, space: str) -> ConfluenceSpace:
        return await self._watching.unwatch(admin, space)

    async def poll_watched(self, now: datetime) -> list[ApprovalRequest]:
        return await self._watching.poll_watched(now)

    # -- requests and signing ----------------------------------------------------------------

    async def get(self, request_id: str) -> ApprovalRequest:
        wanted = _request_id(request_id)
        request = await self._store.get(wanted)
        if request is None:
            raise no_such_request(wanted)
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

    async def open_for_signing(self, request_id: str, user: str, decision: Decision) -> SigningForm:
        decision = _decision(decision)
        request = await self.get(request_id)
        now = self._clock.now()
        signed = _signature_of(request, user)
        if signed is not None:
            raise already_signed(request, signed)
        if request.status is not Status.PENDING or request.expires_at <= now:
            raise closed(request, now)
        _, snapshot = await self._checks(request, user)
        if decision is Decision.APPROVE and not snapshot.submittable:
            raise await self._nothing_left(request, user, snapshot)
        return SigningForm(
            request=request,
            decision=decision,
            snapshot=snapshot,
            meaning=signature_meaning(decision, _page_count(snapshot)),
            changed_since_request=snapshot.digest != request.snapshot.digest,
            changes=await self._changes(request, snapshot),
        )

    async def _changes(
        self, request: ApprovalRequest, snapshot: TargetSnapshot
    ) -> tuple[PageChange, ...]:
        """Each page newer than its last approved version (from ApprovalFlow's detail) or,
        never approved, than the version the request was made at; with who made it."""
        at_request = {page.page_id: page.version for page in request.snapshot.pages}
        changes = []
        editors: dict[str, str | None] = {}  # a few people edit many pages
        for page in snapshot.pages:
            since = page.approved_at_version or at_request.get(page.page_id)
            if page.version is None or since is None or since >= page.version:
                continue
            editor = None
            if page.edited_by:
                if page.edited_by not in editors:
                    editors[page.edited_by] = await self._identities.slack_user_of(page.edited_by)
                editor = editors[page.edited_by]
            changes.append(
                PageChange(
                    page.page_id, since, page.version, page.edited_at, page.edited_by, editor
                )
            )
        return tuple(changes)

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
                raise closed(request, now)
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
        await self._reporter.audit_signature(request, signature)
        signed = request.with_changes(
            status=Status.SUBMITTING,
            signatures=(*request.signatures, signature),
            last_error=None,
        )
        return await self._submits.submit(signed, attempt)

    async def _checks(
        self, request: ApprovalRequest, user: str
    ) -> tuple[LinkedIdentity, TargetSnapshot]:
        """Reviewer, link and scopes, then the target as the signer's own token sees it now."""
        await self._check_reviewer(request, user)
        identity = await self._identities.identity(user)
        needed = SIGNING_SCOPES[request.target.kind]
        missing = needed - identity.scopes
        if missing:
            raise missing_scope(missing)
        snapshot = await take_snapshot(self._api, user, request.target)
        if self._confluence is not None:
            snapshot = await with_confluence(
                snapshot, self._confluence, user, known=request.snapshot
            )
            if isinstance(request.target, PageTarget) and snapshot.pages[0].restricted:
                raise NotAllowed(
                    f"Confluence does not show you page {request.target.page_id} (a page "
                    "restriction keeps you out, or it was deleted), so you cannot sign what it "
                    "says. Ask a space admin for access, or ask the requester to name someone "
                    "who can read it."
                )
        return identity, snapshot

    async def _check_reviewer(self, request: ApprovalRequest, user: str) -> None:
        if user == request.requester and not self._settings.allow_self_approval:
            raise NotAllowed(
                f"You asked for {request.id}, so someone else must sign it: a requester cannot "
                "sign their own request."
            )
        if await self._may_sign(request, user, {}):
            return
        await self._reporter.audit(
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
        await self._reporter.audit_signature(request, signature)
        rejected = request.with_changes(
            status=Status.REJECTED,
            signatures=(*request.signatures, signature),
            last_error=None,
        )
        who, when = signature.signer.name, utc(signature.signed_at)
        await self._reporter.announce(
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
                return already_signed(current, signed)
            return closed(current, self._clock.now())
        return nothing_left(request, snapshot)

    async def _lost(self, request_id: str, user: str, claim: Claim) -> RequestError | NotFound:
        """The error for a signature that lost a race after its checks passed."""
        current = await self._store.get(request_id)
        if current is None or claim is Claim.MISSING:
            return NotFound(f"There is no request {request_id} any more.")
        signed = _signature_of(current, user)
        if signed is not None:
            return already_signed(current, signed)
        return closed(current, self._clock.now())

    async def expire_due(self, now: datetime) -> list[ApprovalRequest]:
        expired = []
        for request_id in await self._store.due_expiry(now):
            if not await self._store.expire(request_id, now):
                continue
            request = await self._store.get(request_id)
            if request is None:
                continue
            await self._reporter.audit(
                SYSTEM,
                "request.expired",
                request,
                reason=f"no signature within {self._settings.request_ttl_hours:g} hours",
            )
            request = await self._reporter.publish(request)
            await self._reporter.tell(
                request.requester,
                request,
                f"Your request {request.id} ({request.title}) expired at "
                f"{utc(request.expires_at)} without a signature. If it is still needed, post "
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
            await self._reporter.note(
                request,
                f"Reminder: {request.id} is still waiting for a signature. It expires at "
                f"{utc(request.expires_at)}.",
            )
            reminded.append(request)
        return reminded


# --- helpers (pure) --------------------------------------------------------------------------


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
        raise no_such_request(request_id)
    if claim is Claim.SIGNED:
        signed = _signature_of(request, user)
        if signed is not None:
            raise already_signed(request, signed)
        raise AlreadySigned(f"You already signed {request.id}.")
    if claim is Claim.CLOSED:
        raise closed(request, now)
    if claim is Claim.BUSY:
        raise AlreadySigned(
            f"You are already signing {request.id} in another window. Finish there, or try "
            "again in a minute."
        )
    return request
