"""Requests: a sign-off posted in Slack, signed with the Approval Token, submitted as the signer."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from datetime import datetime, timedelta

from services.after_answer import AfterAnswer
from services.approvalflow.endpoints import (
    PRODUCT_SCOPE,
    READ_APPROVAL,
    READ_CHANGE_SET,
    WRITE_APPROVAL,
    WRITE_CHANGE_SET,
)
from services.approvalflow.gateway import Sleep
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import PageTarget, TargetSnapshot, take_snapshot
from services.audit.events import SYSTEM, Actor, Auditor
from services.confluence.endpoints import READ_PAGE
from services.confluence.ports import ConfluenceApi, ConfluenceSpace
from services.confluence.snapshots import with_confluence
from services.errors import (
    CommentTooLong,
    FormNotOurs,
    NoSuchRequest,
    NotADecision,
    NotARequestId,
    NotASigner,
    NotFound,
    NothingLeft,
    OwnRequest,
    PageHidden,
    ReasonInvalid,
    ReasonTooLong,
    ReassignNotAllowed,
    ReassignSamePerson,
    RequestGone,
    SignedAlready,
    SigningElsewhere,
    SnapshotChanged,
    StageMoved,
    TransitionRefused,
    UserError,
)
from services.ports import Clock
from services.requests.changes import apply, apply_by_id
from services.requests.model import (
    COMMENT_MAX,
    REASON_MAX,
    REASON_MIN,
    ApprovalRequest,
    Decision,
    Index,
    Signature,
    Signer,
    Status,
    SubmitAttempt,
    normalise_request_id,
    signature_meaning,
)
from services.requests.outcomes import (
    Escalated,
    Expired,
    Reassigned,
    Rejected,
    Reminded,
    Signed,
    SignOutcome,
    StageCompleted,
)
from services.requests.policies import DEFAULT_BOOK, PolicyBook
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
from services.requests.refusals import (
    closed,
    missing_scope,
    reassign_refused,
    refusal,
    stage_not_open,
)
from services.requests.reporter import Reporter
from services.requests.settings import RequestSettings
from services.requests.store import Claim, RequestStore
from services.requests.submitting import Submits
from services.requests.tracking import ReviewTracking
from services.requests.watching import Watching

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
            publisher=<Publisher>,                         # answers to people, at once
            job_publisher=<Publisher>,                     # what the jobs post, paced
            auditor=audit_trail,                           # AuditTrail
            clock=SystemClock(),
            settings=RequestSettings(
                allow_self_approval=settings.allow_self_approval,
                request_ttl_hours=settings.request_ttl_hours,
                reminder_hours=settings.reminder_hours,
                poll_interval_seconds=settings.poll_interval_seconds,
                confluence_site_url=settings.confluence_site_url,
            ),
            after_answer=InOrderAfterAnswer(),           # Slack news after the signer's answer
        )

    Jobs (each under its JobRunner lease; every POLL_INTERVAL_SECONDS):
    `expire_due(now)`, `remind_due(now)`, `track_due(now)` (it also recovers submits stuck by
    a restart, via `recover_stuck`) and `poll_watched(now)`; `recover_stuck(now)` also runs on
    its own every `settings.recover_submits_seconds`, so a dead process's submit is settled
    within seconds of its claim running out.

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
        policies: PolicyBook = DEFAULT_BOOK,
        confluence: ConfluenceApi | None = None,
        job_publisher: Publisher | None = None,
        sleep: Sleep = asyncio.sleep,
        after_answer: AfterAnswer | None = None,
    ) -> None:
        self._policies = policies
        self._store = store
        self._api = api
        self._confluence = confluence
        self._tokens = tokens
        self._identities = identities
        self._groups = groups
        self._clock = clock
        self._settings = settings
        self._sleep = sleep
        self._reporter = Reporter(store, publisher, auditor, after_answer)
        # What the jobs say goes through their own publisher (paced per channel in Slack), so
        # a burst of theirs never holds up an answer to a person; it still waits for a
        # request's news that follows a signer's answer, so the request's messages keep order.
        self._job_reporter = Reporter(store, job_publisher or publisher, auditor, after_answer)
        self._posting = self._make_posting(self._reporter)
        self._submits = self._make_submits(self._reporter)
        self._job_submits = self._make_submits(self._job_reporter)  # recovery settles them
        self._tracking = ReviewTracking(
            store=store,
            api=api,
            submits=self._job_submits,
            reporter=self._job_reporter,
            settings=settings,
        )
        self._watching = Watching(
            store=store,
            api=api,
            identities=identities,
            posting=self._make_posting(self._job_reporter),
            reporter=self._job_reporter,
            clock=clock,
            confluence=confluence,
        )

    def _make_posting(self, reporter: Reporter) -> Posting:
        return Posting(
            store=self._store,
            api=self._api,
            identities=self._identities,
            reporter=reporter,
            clock=self._clock,
            settings=self._settings,
            policies=self._policies,
            confluence=self._confluence,
        )

    def _make_submits(self, reporter: Reporter) -> Submits:
        return Submits(
            store=self._store,
            api=self._api,
            reporter=reporter,
            clock=self._clock,
            settings=self._settings,
            sleep=self._sleep,
        )

    # -- the parts ---------------------------------------------------------------------------

    async def create(
        self,
        requester: str,
        target_text: str,
        reviewers: tuple[str, ...],
        reviewer_groups: tuple[str, ...],
        channel: str,
        policy: str | None = None,
    ) -> ApprovalRequest:
        return await self._posting.create(
            requester, target_text, reviewers, reviewer_groups, channel, policy
        )

    def policies(self) -> PolicyBook:
        return self._policies

    async def recover_stuck(self, now: datetime) -> list[ApprovalRequest]:
        return await self._job_submits.recover_stuck(now)

    async def track_due(self, now: datetime) -> list[TrackingChange]:
        return await self._tracking.track_due(now)

    async def watch(
        self, admin: str, space: str, channel: str, policy: str | None = None
    ) -> ConfluenceSpace:
        return await self._watching.watch(admin, space, channel, policy)

    async def unwatch(self, admin: str, space: str) -> ConfluenceSpace:
        return await self._watching.unwatch(admin, space)

    async def poll_watched(self, now: datetime) -> list[ApprovalRequest]:
        return await self._watching.poll_watched(now)

    # -- requests and signing ----------------------------------------------------------------

    async def get(self, request_id: str) -> ApprovalRequest:
        wanted = _request_id(request_id)
        request = await self._store.get(wanted)
        if request is None:
            raise NoSuchRequest(wanted)
        return request

    async def pending_for(self, user: str) -> list[ApprovalRequest]:
        """Requests whose open stage this user signs: what they can sign now."""
        now = self._clock.now()
        requests = await self._store.get_many(await self._store.pending_ids())
        members: dict[str, frozenset[str]] = {}
        mine = []
        for request in requests:
            if request.status is not Status.PENDING or request.expires_at <= now:
                continue
            if request.signature_of(user) is not None:
                continue
            member_of = await self._member_of(request, user, members)
            stage = request.stage_of(user, member_of, self._settings.allow_self_approval)
            if stage is not None and stage == request.open_stage:
                mine.append(request)
        return sorted(mine, key=lambda r: (r.created_at, r.id))

    async def open_for_signing(self, request_id: str, user: str, decision: Decision) -> SigningForm:
        decision = _decision(decision)
        request = await self.get(request_id)
        now = self._clock.now()
        stage = await self._stage_to_sign(request, user, decision, now)
        _, snapshot = await self._checks(request, user)
        if decision is Decision.APPROVE and not snapshot.submittable:
            raise await self._nothing_left(request, user, snapshot)
        return SigningForm(
            request=request,
            decision=decision,
            snapshot=snapshot,
            meaning=_meaning(request, stage, decision, snapshot),
            changed_since_request=snapshot.digest != request.snapshot.digest,
            changes=await self._changes(request, snapshot),
            stage=stage,
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
        *,
        confirmed_stage: int | None = None,
    ) -> SignOutcome:
        wanted = _request_id(request_id)
        decision = _decision(decision)
        comment = comment.strip()
        _check_comment(decision, comment)
        if not _DIGEST.fullmatch(confirmed_digest):
            raise FormNotOurs()
        now = self._clock.now()
        hold = now + timedelta(seconds=self._settings.signing_hold_seconds)
        # The link is read alongside the claim (one round trip less for the waiting signer);
        # what it says counts only after the request's own refusals, as in `open_for_signing`.
        opening, linked = await asyncio.gather(
            self._store.open_signing(wanted, user, now, hold),
            self._identities.identity(user),
            return_exceptions=True,
        )
        if isinstance(opening, BaseException):
            raise opening
        request = _opened(wanted, user, opening.claim, opening.request)
        try:
            member_of = await self._member_of(request, user, {})
            stage = await self._stage_to_sign(request, user, decision, now, member_of)
            if confirmed_stage is not None and confirmed_stage != stage:
                # The form showed another stage's meaning: never sign words not shown.
                raise StageMoved(request, stage)
            identity, snapshot = await self._checks(request, user, linked)
            if snapshot.digest != confirmed_digest:
                raise SnapshotChanged(request, snapshot)
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
            meaning=_meaning(request, stage, decision, snapshot),
            comment=comment,
            signed_at=self._clock.now(),
            snapshot_digest=snapshot.digest,
            stage=stage,
        )
        allow_self = self._settings.allow_self_approval
        attempt = SubmitAttempt(
            attempt_id=secrets.token_hex(8),
            signer=signer,
            started_at=signature.signed_at,
            page_ids=tuple(page.page_id for page in snapshot.submittable),
            lease_until=signature.signed_at
            + timedelta(seconds=self._settings.submit_lease_seconds),
        )

        def record(current: ApprovalRequest) -> ApprovalRequest:
            if decision is Decision.REJECT:
                return current.reject(signature, member_of, allow_self)
            signed = current.sign(signature, member_of, allow_self)
            return signed.begin_submit(attempt) if signed.ready_to_submit else signed

        try:
            saved = await apply(self._store, request, record, release=user)
        except TransitionRefused as exc:
            await self._store.release_signing(wanted, user)
            raise await self._lost(request.id, user, exc) from None
        await self._reporter.audit_signature(saved, signature)
        if saved.status is Status.REJECTED:
            return await self._announce_rejection(saved, signature)
        if saved.status is Status.SUBMITTING:
            assert saved.attempt is not None
            return await self._submits.submit(saved, saved.attempt)
        return await self._signed_stage(request, saved, signature)

    async def _stage_to_sign(
        self,
        request: ApprovalRequest,
        user: str,
        decision: Decision,
        now: datetime,
        member_of: frozenset[str] | None = None,
    ) -> int:
        """The stage `user` signs now, or the error that says why they cannot (yet)."""
        signed = request.signature_of(user)
        if signed is not None:
            raise SignedAlready(request, signed)
        if request.status is not Status.PENDING or request.expires_at <= now:
            raise closed(request, now)
        if member_of is None:
            member_of = await self._member_of(request, user, {})
        if user == request.requester and not self._settings.allow_self_approval:
            raise OwnRequest(request)
        stage = request.stage_of(user, member_of, self._settings.allow_self_approval)
        if stage is None:
            await self._reporter.audit(
                Actor(user),
                "request.sign.refused",
                request,
                reason="not a signer of this request",
            )
            raise NotASigner(request)
        if decision is Decision.APPROVE and stage != request.open_stage:
            raise stage_not_open(request, stage)
        return stage

    async def _checks(
        self,
        request: ApprovalRequest,
        user: str,
        linked: LinkedIdentity | BaseException | None = None,
    ) -> tuple[LinkedIdentity, TargetSnapshot]:
        """Link and scopes, then the target as the signer's own token sees it now. `linked`:
        the link as already read (or the error reading it gave), else it is read here."""
        if isinstance(linked, BaseException):
            raise linked
        identity = linked or await self._identities.identity(user)
        needed = SIGNING_SCOPES[request.target.kind]
        missing = needed - identity.scopes
        if missing:
            raise missing_scope(missing)
        snapshot = await take_snapshot(
            self._api, user, request.target, expect_open=not request.snapshot.archived
        )
        if self._confluence is not None:
            snapshot = await with_confluence(
                snapshot, self._confluence, user, known=request.snapshot
            )
            if isinstance(request.target, PageTarget) and snapshot.pages[0].restricted:
                raise PageHidden(request.target.page_id)
        return identity, snapshot

    async def _member_of(
        self, request: ApprovalRequest, user: str, members: dict[str, frozenset[str]]
    ) -> frozenset[str]:
        """The user groups of the request's stages that `user` belongs to (`members` caches
        each group's members across requests)."""
        groups = {group for stage in request.stages for group in stage.groups}
        found = set()
        for group in sorted(groups):
            if group not in members:
                members[group] = await self._groups.members(group)
            if user in members[group]:
                found.add(group)
        return frozenset(found)

    async def _announce_rejection(
        self, rejected: ApprovalRequest, signature: Signature
    ) -> Rejected:
        outcome = Rejected(rejected, signature)
        await self._reporter.announce_after_answer(outcome)
        return outcome

    async def _nothing_left(
        self, request: ApprovalRequest, user: str, snapshot: TargetSnapshot
    ) -> UserError:
        """Nothing is submittable now: most often because another reviewer just approved (and
        submitted) it, which is what to say then; else what blocks the pages."""
        current = await self._store.get(request.id)
        if current is not None and current.status is not Status.PENDING:
            signed = current.signature_of(user)
            if signed is not None:
                return SignedAlready(current, signed)
            return closed(current, self._clock.now())
        return NothingLeft(request, snapshot)

    async def _lost(self, request_id: str, user: str, refused: TransitionRefused) -> UserError:
        """The error for a signature that lost a race after its checks passed."""
        current = await self._store.get(request_id)
        if current is None:
            return RequestGone(request_id)
        return refusal(current, user, refused, self._clock.now())

    async def _signed_stage(
        self, before: ApprovalRequest, saved: ApprovalRequest, signature: Signature
    ) -> Signed | StageCompleted:
        """A signature that leaves stages to sign: the message shows it, the thread gets a
        reply, and a stage it completes is told to the requester and to the next signers (all
        once the signer has their answer)."""
        outcome: Signed | StageCompleted
        if saved.open_stage != before.open_stage and saved.open_stage is not None:
            outcome = StageCompleted(saved, signature)
        else:
            outcome = Signed(saved, signature)
        await self._reporter.announce_after_answer(outcome)
        return outcome

    async def reassign(
        self, request_id: str, actor: str, old: str, new: str, reason: str, *, admin: bool
    ) -> ApprovalRequest:
        """A named signer who cannot sign is replaced by another person (the requester or an
        admin asks; `admin` says the caller is one). Audited with the reason; @new is told."""
        request = await self.get(request_id)
        if actor != request.requester and not admin:
            raise ReassignNotAllowed(request)
        if old == new:
            raise ReassignSamePerson()
        reason = reason.strip()
        if len(reason) > COMMENT_MAX:
            raise ReasonTooLong(COMMENT_MAX)
        try:
            saved = await apply(self._store, request, lambda r: r.reassign(old, new))
        except TransitionRefused as exc:
            current = await self._store.get(request.id) or request
            raise reassign_refused(current, old, new, exc) from None
        await self._reporter.audit(
            Actor(actor),
            "request.reassigned",
            saved,
            reason=reason,
            details={"from": old, "to": new},
        )
        return await self._reporter.announce(Reassigned(saved, actor, old, new, reason))

    async def escalate_due(self, now: datetime) -> list[ApprovalRequest]:
        """Stages open longer than their `escalate_after`: a thread reply mentioning whom they
        escalate to, a DM to the requester, an audit entry; once per stage."""
        escalated = []
        for request_id in await self._store.due(Index.ESCALATE, now):
            try:
                request = await apply_by_id(self._store, request_id, lambda r: r.escalate(now))
            except (TransitionRefused, NotFound):
                continue
            stage = request.escalated[-1]
            await self._job_reporter.audit(
                SYSTEM,
                "request.escalated",
                request,
                reason=f"stage {stage + 1} open since {request.opened_at().isoformat()}",
                details={"stage": request.stages[stage].name},
            )
            await self._job_reporter.report(Escalated(request, stage))
            escalated.append(request)
        return escalated

    async def expire_due(self, now: datetime) -> list[ApprovalRequest]:
        expired = []
        for request_id in await self._store.due(Index.EXPIRY, now):
            try:
                request = await apply_by_id(self._store, request_id, lambda r: r.expire(now))
            except (TransitionRefused, NotFound):
                continue
            await self._job_reporter.audit(
                SYSTEM,
                "request.expired",
                request,
                reason=f"no signature within {self._settings.request_ttl_hours:g} hours",
            )
            request = await self._job_reporter.announce(Expired(request))
            expired.append(request)
        return expired

    async def remind_due(self, now: datetime) -> list[ApprovalRequest]:
        reminded = []
        for request_id in await self._store.due(Index.REMIND, now):
            try:
                request = await apply_by_id(self._store, request_id, lambda r: r.remind(now))
            except (TransitionRefused, NotFound):
                continue
            await self._job_reporter.report(Reminded(request))
            reminded.append(request)
        return reminded


# --- helpers (pure) --------------------------------------------------------------------------


def _request_id(text: str) -> str:
    wanted = normalise_request_id(text)
    if wanted is None:
        raise NotARequestId(text)
    return wanted


def _decision(value: object) -> Decision:
    # `is` comparisons below must never meet a bare "reject" string and take it for approve.
    try:
        return Decision(str(value))
    except ValueError:
        raise NotADecision() from None


def _check_comment(decision: Decision, comment: str) -> None:
    if decision is Decision.REJECT:
        if not REASON_MIN <= len(comment) <= REASON_MAX:
            raise ReasonInvalid(REASON_MIN, REASON_MAX, len(comment))
    elif len(comment) > COMMENT_MAX:
        raise CommentTooLong(COMMENT_MAX, len(comment))


def _page_count(snapshot: TargetSnapshot) -> int:
    return len(snapshot.submittable) or len(snapshot.pages)


def _meaning(
    request: ApprovalRequest, stage: int, decision: Decision, snapshot: TargetSnapshot
) -> str:
    """The sentence the signer signs: the stage's own meaning for an approval, if it has one."""
    own = request.stages[stage].meaning if stage < len(request.stages) else ""
    if decision is Decision.APPROVE and own:
        return own
    return signature_meaning(decision, _page_count(snapshot))


def _opened(
    request_id: str, user: str, claim: Claim, request: ApprovalRequest | None
) -> ApprovalRequest:
    if request is None or claim is Claim.MISSING:
        raise NoSuchRequest(request_id)
    if claim is Claim.BUSY:
        raise SigningElsewhere(request)
    return request
