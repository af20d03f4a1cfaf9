"""Posting a request: the target checked with the requester's token, then the channel message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from services.approvalflow.models import ChangeSet
from services.approvalflow.page_url import parse_target
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import ChangeSetTarget, Target, TargetSnapshot, take_snapshot
from services.audit.events import Actor
from services.confluence.ports import ConfluenceApi
from services.confluence.snapshots import with_confluence
from services.errors import (
    NothingSubmittable,
    ReviewersAndPolicy,
    SelfAsReviewer,
    StoreError,
    UnknownPolicy,
)
from services.ports import Clock
from services.requests.model import ApprovalRequest, Policy, new_request_id
from services.requests.policies import PolicyBook
from services.requests.ports import Identities, LinkedIdentity
from services.requests.reporter import Reporter
from services.requests.settings import RequestSettings
from services.requests.store import RequestStore

_ID_TRIES = 8  # 28^4 ids: a clash is rare, eight in a row means something else is wrong


class Posting:
    """Creates requests (from a command or a watched space) and posts their message."""

    def __init__(
        self,
        *,
        store: RequestStore,
        api: ApprovalFlowApi,
        identities: Identities,
        reporter: Reporter,
        clock: Clock,
        settings: RequestSettings,
        policies: PolicyBook,
        confluence: ConfluenceApi | None = None,
    ) -> None:
        self._policies = policies
        self._confluence = confluence
        self._store = store
        self._api = api
        self._identities = identities
        self._reporter = reporter
        self._clock = clock
        self._settings = settings

    async def create(
        self,
        requester: str,
        target_text: str,
        reviewers: tuple[str, ...],
        reviewer_groups: tuple[str, ...],
        channel: str,
        policy: str | None = None,
    ) -> ApprovalRequest:
        target = parse_target(target_text, site_url=self._settings.confluence_site_url)
        reviewers = _unique(reviewers)
        chosen = self.policy(policy, reviewers, _unique(reviewer_groups))
        if requester in reviewers and not self._settings.allow_self_approval:
            raise SelfAsReviewer()
        identity = await self._identities.identity(requester)
        change_set = None
        if isinstance(target, ChangeSetTarget):
            change_set = await self._api.change_set_detail(requester, target.change_set_id)
        snapshot = await self.snapshot(requester, target, change_set)
        return await self.post(
            requester,
            identity,
            snapshot,
            change_set,
            reviewers,
            _unique(reviewer_groups),
            channel,
            "command",
            chosen,
        )

    def policy(
        self, name: str | None, reviewers: tuple[str, ...], groups: tuple[str, ...]
    ) -> Policy:
        """The policy a new request signs by; InputError for a name that is not one."""
        if name is not None and (reviewers or groups):
            raise ReviewersAndPolicy()
        try:
            return self._policies.choose(name, reviewers, groups)
        except KeyError:
            raise UnknownPolicy(name or "", self._policies.names()) from None

    async def snapshot(
        self, requester: str, target: Target, change_set: ChangeSet | None = None
    ) -> TargetSnapshot:
        """The target as the requester sees it, with its pages' titles (one bulk read)."""
        snapshot = await take_snapshot(self._api, requester, target, change_set)
        if self._confluence is None:
            return snapshot
        return await with_confluence(snapshot, self._confluence, requester)

    async def post(
        self,
        requester: str,
        identity: LinkedIdentity,
        snapshot: TargetSnapshot,
        change_set: ChangeSet | None,
        reviewers: tuple[str, ...],
        reviewer_groups: tuple[str, ...],
        channel: str,
        source: str,
        policy: Policy,
    ) -> ApprovalRequest:
        if snapshot.archived or not snapshot.submittable:
            raise NothingSubmittable(snapshot)
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
            remind_at=now + remind if remind < ttl else None,
            policy=policy,
        )
        for _ in range(_ID_TRIES):
            stored = await self._store.create(request.with_changes(id=new_request_id()))
            if stored is not None:
                request = stored
                break
        else:
            raise StoreError("no free request id could be drawn (the id index is full?)")
        await self._reporter.audit(
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
                "policy": policy.name,
                "stages": " | ".join(
                    f"{stage.name}: {stage.quorum} ({stage.meaning})" for stage in policy.stages
                ),
            },
        )
        return await self._reporter.publish(request)


def _unique(ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.strip() for i in ids if i.strip()))
