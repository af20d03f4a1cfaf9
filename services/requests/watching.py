"""Watched spaces: a request posted for each new open change set, each once."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from services.approvalflow.endpoints import PRODUCT_SCOPE, READ_CHANGE_SET
from services.approvalflow.models import ChangeSet
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import ChangeSetTarget, take_snapshot
from services.audit.events import Actor
from services.errors import ApprovalsError, InputError, NotFound, NothingToSubmit
from services.ports import Clock
from services.requests.model import ApprovalRequest
from services.requests.ports import Identities, LinkedIdentity
from services.requests.posting import Posting
from services.requests.reporter import Reporter
from services.requests.store import RequestStore, Watch
from services.requests.wording import missing_scope

log = logging.getLogger(__name__)

WATCH_SCOPES = frozenset({PRODUCT_SCOPE, READ_CHANGE_SET})
_SPACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Watching:
    """`watch` / `unwatch` a space (the caller checks admin rights) and the job that polls it."""

    def __init__(
        self,
        *,
        store: RequestStore,
        api: ApprovalFlowApi,
        identities: Identities,
        posting: Posting,
        reporter: Reporter,
        clock: Clock,
    ) -> None:
        self._store = store
        self._api = api
        self._identities = identities
        self._posting = posting
        self._reporter = reporter
        self._clock = clock

    async def watch(
        self, admin: str, space_id: str, channel: str, policy: str | None = None
    ) -> None:
        space_id = space_id.strip()
        if not _SPACE_ID.fullmatch(space_id):
            raise InputError(
                f"“{space_id[:40]}” is not a space id. Give the Confluence space id (a number "
                "like 98301, not the space key)."
            )
        if policy is not None:
            self._posting.policy(policy, (), ())  # an unknown name is refused now, not later
        identity = await self._identities.identity(admin)
        missing = WATCH_SCOPES - identity.scopes
        if missing:
            raise missing_scope(missing)
        # Listing now proves the space exists and that the watcher's token can read it.
        await self._api.list_change_sets(admin, space_id)
        await self._store.add_watch(Watch(space_id, admin, channel, self._clock.now(), policy))
        await self._reporter.audit(
            Actor(admin, identity.account_id, identity.name),
            "request.watch.added",
            target=f"space:{space_id}",
            details={"channel": channel, "policy": policy or ""},
        )

    async def unwatch(self, admin: str, space_id: str) -> None:
        space_id = space_id.strip()
        if not await self._store.remove_watch(space_id):
            raise NotFound(f"Space {space_id[:40]} is not watched. Nothing was changed.")
        await self._reporter.audit(
            Actor(admin), "request.watch.removed", target=f"space:{space_id}"
        )

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
            policy = self._posting.policy(watch.policy, (), ())
            return await self._posting.post(
                watch.admin,
                identity,
                snapshot,
                change_set,
                (),
                (),
                watch.channel,
                f"watch:{watch.space_id}",
                policy,
            )
        except NothingToSubmit:
            # Stays seen: an open set with nothing submittable is not posted on every poll.
            log.info("watched change set not posted", extra={"change_set": change_set.id})
            return None
        except ApprovalsError as exc:
            await self._store.forget_seen(watch.space_id, change_set.id)
            log.warning("watched change set failed", extra={"id": change_set.id, "error": str(exc)})
            return None
