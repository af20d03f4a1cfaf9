"""Watched spaces: a request posted for each new open change set, each once."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from services.approvalflow.endpoints import PRODUCT_SCOPE, READ_CHANGE_SET
from services.approvalflow.models import ChangeSet
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.targets import ChangeSetTarget
from services.audit.events import Actor
from services.confluence.ports import ConfluenceApi, ConfluenceSpace
from services.errors import (
    ApprovalsError,
    LinkError,
    NoSuchSpace,
    NotASpace,
    NothingToSubmit,
    NotWatched,
    SpaceIdsOnly,
    UpstreamError,
)
from services.ports import Clock
from services.requests.model import ApprovalRequest
from services.requests.ports import Identities, LinkedIdentity
from services.requests.posting import Posting
from services.requests.refusals import missing_scope
from services.requests.reporter import Reporter
from services.requests.store import RequestStore, Watch

log = logging.getLogger(__name__)

WATCH_SCOPES = frozenset({PRODUCT_SCOPE, READ_CHANGE_SET})
_SPACE_ID = re.compile(r"\d{1,19}")
# Confluence space keys: letters and digits; a personal space's key is "~" and an account id.
_SPACE_KEY = re.compile(r"~?[A-Za-z0-9_:-]{1,255}")


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
        confluence: ConfluenceApi | None = None,
    ) -> None:
        self._confluence = confluence
        self._store = store
        self._api = api
        self._identities = identities
        self._posting = posting
        self._reporter = reporter
        self._clock = clock

    async def watch(
        self, admin: str, space: str, channel: str, policy: str | None = None
    ) -> ConfluenceSpace:
        """Watch a space named by its key (like DOCS) or its numeric id, posting its requests
        with `policy` (None: the default); returns it named."""
        if policy is not None:
            self._posting.policy(policy, (), ())  # an unknown name is refused now, not later
        identity = await self._identities.identity(admin)
        missing = WATCH_SCOPES - identity.scopes
        if missing:
            raise missing_scope(missing)
        found = await self.resolve(admin, space)
        # Listing now proves the space exists and that the watcher's token can read it.
        await self._api.list_change_sets(admin, found.space_id)
        watch = Watch(found.space_id, admin, channel, self._clock.now(), policy)
        await self._store.add_watch(watch)
        await self._reporter.audit(
            Actor(admin, identity.account_id, identity.name),
            "request.watch.added",
            target=f"space:{found.space_id}",
            details={
                "channel": channel,
                "space_key": found.key,
                "space_name": found.name,
                "policy": policy or "",
            },
        )
        return found

    async def unwatch(self, admin: str, space: str) -> ConfluenceSpace:
        found = await self.resolve(admin, space)
        if not await self._store.remove_watch(found.space_id):
            raise NotWatched(_named(found))
        await self._reporter.audit(
            Actor(admin),
            "request.watch.removed",
            target=f"space:{found.space_id}",
            details={"space_key": found.key},
        )
        return found

    async def resolve(self, admin: str, space: str) -> ConfluenceSpace:
        """The space a person named: a key is looked up in Confluence (as `admin`, so only a
        space they can see); an id is named when Confluence can name it, and kept as is when
        it cannot (ApprovalFlow only needs the id)."""
        text = space.strip()
        if _SPACE_ID.fullmatch(text):
            named: dict[str, ConfluenceSpace] = {}
            if self._confluence is not None:
                try:
                    named = await self._confluence.spaces_by_id(admin, [text])
                except (LinkError, UpstreamError) as exc:
                    log.info("space not named", extra={"space": text, "error": str(exc)})
            return named.get(text) or ConfluenceSpace(space_id=text, key="", name="")
        if not _SPACE_KEY.fullmatch(text):
            raise NotASpace(text)
        if self._confluence is None:
            raise SpaceIdsOnly()
        key = text if text.startswith("~") else text.upper()
        found = await self._confluence.spaces_by_key(admin, [key])
        if key not in found:
            raise NoSuchSpace(key)
        return found[key]

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
            snapshot = await self._posting.snapshot(watch.admin, target)
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


def _named(space: ConfluenceSpace) -> str:
    return f"{space.key} ({space.name})" if space.key else space.space_id
