"""The sandbox's state and every operation on it, as plain methods for routes and in-process tests.

One `SandboxState` holds the world (users, sites, pages, reviews, token families), the recorded
calls, the injected faults and a movable clock. Methods that change the world save a JSON
snapshot when a `persist_path` is given, so `make run` keeps sandbox accounts across restarts.
Inside an event loop the changes of one burst are saved together, shortly after (`flush` saves
at once; the servers call it on the way out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from emulators.approvalflow import reviews, tokens
from emulators.approvalflow.contract import ENDPOINT_NAMES
from emulators.approvalflow.errors import AdminError, ApiError
from emulators.approvalflow.models import Approval, Call, Family, Page, Site, Switches, User, World
from emulators.approvalflow.seed import SITE_ID, seed_world
from emulators.clock import ClockLike, SystemClock

log = logging.getLogger(__name__)

DEFAULT_REJECT_COMMENT = "Changes requested in the ApprovalFlow sandbox."
MAX_RECORDED_CALLS = 10_000  # a long `make run` session must not grow without bound
# The whole world is rewritten on a save: at one save per call, a benchmark's sandbox with a
# thousand change sets spent more CPU writing JSON than answering (bench/approve.py). A save
# waits this long after the first change, and a further SAVE_DELAY_PER_MB per megabyte of the
# last snapshot, so a large world's saves stay a small share of the work under a steady load.
SAVE_DELAY_SECONDS = 0.5
SAVE_DELAY_PER_MB = 0.5


@dataclass
class Fault:
    """What the next calls to one endpoint do instead of answering normally."""

    endpoint: str
    status: int | None = 500  # None: answer normally (after `hang_seconds`)
    remaining: int | None = 1  # None: every call until cleared
    retry_after: int | None = None
    hang_seconds: float = 0.0
    body: Any = None  # None: the endpoint's usual error body for `status`


class SandboxState:
    """The emulated Atlassian 3LO and ApprovalFlow, with controls for tests and people."""

    def __init__(
        self,
        *,
        clock: ClockLike | None = None,
        persist_path: Path | None = None,
        clients: Mapping[str, str] | None = None,
        app_id: str | None = None,
        env_id: str | None = None,
    ) -> None:
        """`clients` maps client id to secret (None accepts any); `app_id`/`env_id` restrict
        the ApprovalFlow base URL (None accepts any)."""
        self.clock = clock or SystemClock()
        self.persist_path = persist_path
        self.clients = dict(clients) if clients is not None else None
        self.app_id = app_id
        self.env_id = env_id
        self.calls: deque[Call] = deque(maxlen=MAX_RECORDED_CALLS)
        self._faults: list[Fault] = []
        self._latency: dict[str, float] = {}
        self._held: set[asyncio.Event] = set()  # answers held back by a hang, until released
        self._unsaved = False
        self._save_timer: asyncio.TimerHandle | None = None
        self._snapshot_bytes = 0
        loaded = self._load()
        self.world = loaded or seed_world(self.clock.now())
        if loaded is None:
            # Save only a fresh seed: rewriting what was just read could overwrite a newer
            # snapshot that another process (serve vs worker) wrote in the meantime.
            self._unsaved = True
            self.flush()

    # --- clock -------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now() + timedelta(seconds=self.world.clock_offset_seconds)

    def advance_clock(self, seconds: float) -> datetime:
        self.world.clock_offset_seconds += seconds
        self._changed()
        return self.now()

    def set_clock(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            raise AdminError(400, "the time must carry a timezone (UTC)")
        self.world.clock_offset_seconds = (when - self.clock.now()).total_seconds()
        self._changed()
        return self.now()

    # --- people and sites --------------------------------------------------------------

    def user(self, who: str) -> User:
        """A user by account id or email."""
        found = self.world.users.get(who) or next(
            (u for u in self.world.users.values() if u.email.lower() == who.lower()), None
        )
        if found is None:
            raise AdminError(404, f"No sandbox user {who}")
        return found

    def site(self, id_or_url: str) -> Site:
        wanted = id_or_url.rstrip("/")
        for site in self.world.sites.values():
            if wanted in (site.id, site.url):
                return site
        raise AdminError(404, f"No sandbox site {id_or_url}")

    def add_user(
        self,
        name: str,
        email: str,
        *,
        account_id: str | None = None,
        sites: list[str] | None = None,
        email_visible: bool = True,
    ) -> User:
        """A new person; `sites` (ids or URLs) are what they grant, default the sandbox site."""
        account_id = account_id or f"712020:{uuid.uuid4()}"
        if not name.strip() or "@" not in email:
            raise AdminError(400, "a user needs a name and an email")
        if account_id in self.world.users or any(
            u.email.lower() == email.lower() for u in self.world.users.values()
        ):
            raise AdminError(400, f"a user with account id {account_id} or email {email} exists")
        user = User(
            account_id=account_id,
            name=name.strip(),
            email=email,
            nickname=email.split("@")[0],
            site_ids=self._site_ids(sites) if sites is not None else [SITE_ID],
            email_visible=email_visible,
        )
        self.world.users[account_id] = user
        self._changed()
        return user

    def set_user_sites(self, who: str, sites: list[str]) -> User:
        """Which sites the person grants at their next consent (ids or URLs)."""
        user = self.user(who)
        user.site_ids = self._site_ids(sites)
        self._changed()
        return user

    def _site_ids(self, sites: list[str]) -> list[str]:
        return [self.site(site).id for site in sites]

    # --- Atlassian 3LO -----------------------------------------------------------------

    def known_client(self, client_id: str) -> bool:
        return self.clients is None or client_id in self.clients

    def check_client(self, client_id: str, client_secret: str) -> None:
        """client_secret_post: both are required; configured clients must match."""
        if not client_id or not client_secret or not self.known_client(client_id):
            raise tokens.bad_client()
        if self.clients is not None and not secrets.compare_digest(
            self.clients[client_id], client_secret
        ):
            raise tokens.bad_client()

    def authorize(self, *, client_id: str, redirect_uri: str, who: str, scopes: list[str]) -> str:
        """The person consents on the authorize page; returns the code."""
        code = tokens.issue_code(
            self.world,
            client_id=client_id,
            redirect_uri=redirect_uri,
            account_id=self.user(who).account_id,
            scopes=scopes,
            now=self.now(),
        )
        self._changed()
        return code

    def exchange_code(
        self, *, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> tuple[Family, dict[str, Any]]:
        """The authorization_code grant; returns the new family and the token response."""
        self.check_client(client_id, client_secret)
        try:
            return tokens.exchange_code(
                self.world,
                client_id=client_id,
                code=code,
                redirect_uri=redirect_uri,
                now=self.now(),
            )
        finally:
            self._changed()  # a used code stays used even when the answer is an error

    def refresh(
        self, *, client_id: str, client_secret: str, refresh_token: str
    ) -> tuple[Family, dict[str, Any]]:
        """The refresh_token grant; returns the family and the token response."""
        self.check_client(client_id, client_secret)
        try:
            return tokens.refresh(
                self.world, client_id=client_id, refresh_token=refresh_token, now=self.now()
            )
        finally:
            self._changed()  # a revoked family stays revoked

    def token_family(self, access_token: str) -> Family | None:
        """The grant behind a live access token, or None."""
        return tokens.token_family(self.world, access_token, self.now())

    def families(self, who: str | None = None) -> list[Family]:
        account_id = self.user(who).account_id if who else None
        return [f for f in self.world.families.values() if account_id in (None, f.account_id)]

    def refresh_count(self, who: str | None = None) -> int:
        """Successful refreshes over the families (of one person, or of everyone)."""
        return sum(family.refresh_count for family in self.families(who))

    def revoke_grants(self, who: str) -> int:
        """The person removes the app under Connected apps: every family of theirs dies."""
        revoked = 0
        for family in self.families(who):
            if family.revoked_at is None:
                family.revoked_at, family.revoked_reason = self.now(), "revoked by the user"
                revoked += 1
        self._changed()
        return revoked

    # --- ApprovalFlow's 9 endpoints (answers in the documented shapes) -------------------

    def list_change_sets(self, space_id: str, *, cloud_id: str | None = None) -> dict[str, Any]:
        reviews.ensure_space(self.world, space_id, cloud_id)
        change_sets = [c for c in self.world.change_sets.values() if c.space_id == space_id]
        return {
            "success": True,
            "changeSets": [reviews.change_set_view(self.world, c) for c in change_sets],
        }

    def change_set_detail(
        self, change_set_id: str, *, cloud_id: str | None = None
    ) -> dict[str, Any]:
        change_set = reviews.find_change_set(self.world, change_set_id, cloud_id)
        return {"success": True, "changeSet": reviews.change_set_detail(self.world, change_set)}

    def create_change_set(
        self, fields: dict[str, Any], *, account_id: str, cloud_id: str | None = None
    ) -> dict[str, Any]:
        """`fields` is the request body: spaceId, title, summary, referenceUrl, pageRefs."""
        space_id = reviews.required(fields, "spaceId")
        reviews.ensure_space(self.world, space_id, cloud_id)
        change_set = reviews.create_change_set(
            self.world, space_id, fields, account_id=account_id, now=self.now()
        )
        self._changed()
        return {"success": True, "changeSet": reviews.change_set_view(self.world, change_set)}

    def update_change_set(
        self, change_set_id: str, fields: dict[str, Any], *, cloud_id: str | None = None
    ) -> dict[str, Any]:
        change_set = reviews.find_change_set(self.world, change_set_id, cloud_id)
        reviews.update_change_set(self.world, change_set, fields, self.now())
        self._changed()
        return {"success": True, "changeSet": reviews.change_set_view(self.world, change_set)}

    def archive_change_set(
        self, change_set_id: str, *, cloud_id: str | None = None
    ) -> dict[str, Any]:
        change_set = reviews.find_change_set(self.world, change_set_id, cloud_id)
        reviews.archive_change_set(change_set, self.now())
        self._changed()
        return {"success": True, "changeSet": reviews.change_set_view(self.world, change_set)}

    def submit_change_set(
        self,
        change_set_id: str,
        *,
        account_id: str,
        client_id: str | None = None,
        cloud_id: str | None = None,
    ) -> dict[str, Any]:
        change_set = reviews.find_change_set(self.world, change_set_id, cloud_id)
        answer = reviews.submit_change_set(
            self.world, change_set, account_id=account_id, client_id=client_id, now=self.now()
        )
        self._changed()
        return answer

    def preflight_change_set(
        self, change_set_id: str, *, cloud_id: str | None = None
    ) -> dict[str, Any]:
        change_set = reviews.find_change_set(self.world, change_set_id, cloud_id)
        reviews.ensure_open(change_set)
        results = [
            reviews.preflight(self.world, self.world.pages[page_id], change_set.id)
            for page_id in change_set.page_ids
        ]
        submittable = sum(1 for result in results if result["canSubmit"])
        return {
            "success": True,
            "summary": {
                "total": len(results),
                "submittable": submittable,
                "blocked": len(results) - submittable,
            },
            "results": results,
        }

    def submit_page(
        self,
        page_id: str,
        *,
        account_id: str,
        client_id: str | None = None,
        cloud_id: str | None = None,
    ) -> dict[str, Any]:
        """A blocked page is a 400 with the block reason (the docs give no shape for it)."""
        page = reviews.find_page(self.world, page_id, cloud_id)
        result = reviews.submit(
            self.world,
            page,
            change_set_id=None,
            account_id=account_id,
            client_id=client_id,
            now=self.now(),
        )
        if not result["success"]:
            raise ApiError(400, str(result["reason"]))
        self._changed()
        return {"success": True, "pageId": page.id, "workflowId": result["workflowId"]}

    def preflight_page(self, page_id: str, *, cloud_id: str | None = None) -> dict[str, Any]:
        page = reviews.find_page(self.world, page_id, cloud_id)
        return {"success": True, **reviews.preflight(self.world, page, None)}

    # --- what happens in Confluence (no API exists for these) ----------------------------

    def rollup(self, change_set_id: str) -> str:
        return reviews.rollup_state(self.world, reviews.find_change_set(self.world, change_set_id))

    def page(self, page_id: str) -> Page:
        page = self.world.pages.get(page_id)
        if page is None:
            raise AdminError(404, f"Page not found: {page_id}")
        return page

    def edit_page(self, page_id: str, *, title: str | None = None, by: str | None = None) -> Page:
        """A new version of the page, made by `by` (account id or email; default: whoever
        made the current one) now."""
        editor = self.user(by).account_id if by else None
        page = reviews.edit_page(self.world, page_id, title=title, by=editor, at=self.now())
        self._changed()
        return page

    def delete_page(self, page_id: str) -> Page:
        page = self.page(page_id)
        page.status = "deleted"
        self._changed()
        return page

    def approve_page(self, page_id: str, reviewer: str, *, comment: str = "") -> Approval:
        return self._decide(page_id, reviewer, "approved", comment)

    def reject_page(
        self, page_id: str, reviewer: str, *, comment: str = DEFAULT_REJECT_COMMENT
    ) -> Approval:
        return self._decide(page_id, reviewer, "rejected", comment)

    def _decide(
        self, page_id: str, reviewer: str, outcome: Literal["approved", "rejected"], comment: str
    ) -> Approval:
        approval = reviews.decide(
            self.world,
            page_id,
            account_id=self.user(reviewer).account_id,
            outcome=outcome,
            comment=comment,
            now=self.now(),
        )
        self._changed()
        return approval

    def set_switches(
        self, *, app_rest_apis_enabled: bool | None = None, licence_active: bool | None = None
    ) -> Switches:
        switches = self.world.switches
        if app_rest_apis_enabled is not None:
            switches.app_rest_apis_enabled = app_rest_apis_enabled
        if licence_active is not None:
            switches.licence_active = licence_active
        self._changed()
        return switches

    # --- faults, latency, calls ----------------------------------------------------------

    def inject_fault(
        self,
        endpoint: str,
        *,
        status: int | None = 500,
        count: int | None = 1,
        retry_after: int | None = None,
        hang_seconds: float = 0.0,
        body: Any = None,
    ) -> Fault:
        """The next `count` calls to `endpoint` (None: all, until cleared) sleep `hang_seconds`
        and then answer `status` (None: answer normally)."""
        _check_endpoint(endpoint)
        if count is not None and count < 1:
            raise AdminError(400, "count must be at least 1 (or null for every call)")
        if status is not None and not 400 <= status <= 599:
            raise AdminError(400, "status must be an HTTP error status (400-599)")
        fault = Fault(endpoint, status, count, retry_after, max(hang_seconds, 0.0), body)
        self._faults.append(fault)
        return fault

    def take_fault(self, endpoint: str) -> Fault | None:
        """The fault the current call to `endpoint` meets, if any (used up by this call)."""
        for fault in self._faults:
            if fault.endpoint == endpoint:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    async def hold_answer(self, seconds: float) -> None:
        """Hold back the answer to a call that was already handled (a fault's hang): `seconds`,
        or less if `release_held` is called meanwhile."""
        released = asyncio.Event()
        self._held.add(released)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), seconds)
        finally:
            self._held.discard(released)

    def release_held(self) -> int:
        """Send every answer a hang is holding back now; how many there were."""
        held = len(self._held)
        for released in self._held:
            released.set()
        return held

    def set_token_endpoint_down(self, down: bool = True) -> None:
        """The token endpoint answers 503 to every call until this is called with False."""
        self._faults = [f for f in self._faults if f.endpoint != "token"]
        if down:
            self.inject_fault("token", status=503, count=None)

    def set_latency(self, endpoint: str, seconds: float) -> None:
        _check_endpoint(endpoint)
        self._latency[endpoint] = max(seconds, 0.0)

    def latency(self, endpoint: str) -> float:
        return self._latency.get(endpoint, 0.0)

    def clear_faults(self) -> None:
        """Remove every fault and every latency."""
        self._faults.clear()
        self._latency.clear()

    def faults(self) -> list[Fault]:
        return list(self._faults)

    def record(self, call: Call) -> None:
        self.calls.append(call)

    def calls_to(self, endpoint: str | None = None, *, who: str | None = None) -> list[Call]:
        account_id = self.user(who).account_id if who else None
        return [
            c
            for c in self.calls
            if endpoint in (None, c.endpoint) and account_id in (None, c.account_id)
        ]

    def clear_calls(self) -> None:
        self.calls.clear()

    def reset(self) -> None:
        """Back to the seeded world: calls, faults and latency cleared, clock offset zero."""
        self.world = seed_world(self.clock.now())
        self.clear_calls()
        self.clear_faults()
        self._changed()

    # --- persistence -------------------------------------------------------------------

    def _load(self) -> World | None:
        if self.persist_path is None or not self.persist_path.exists():
            return None
        try:
            snapshot = self.persist_path.read_text(encoding="utf-8")
            world = World.model_validate_json(snapshot)
        except (OSError, ValidationError) as exc:
            log.warning(
                "sandbox snapshot %s unreadable (%s); starting fresh", self.persist_path, exc
            )
            return None
        if world.format != World().format:
            return None
        self._snapshot_bytes = len(snapshot)
        return world

    def _changed(self) -> None:
        if self.persist_path is None:
            return
        self._unsaved = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no loop to save later from: save now
            return
        if self._save_timer is None:
            self._save_timer = loop.call_later(self.save_delay(), self.flush)

    def save_delay(self) -> float:
        """Seconds from a change to the save that includes it, inside an event loop."""
        return SAVE_DELAY_SECONDS + SAVE_DELAY_PER_MB * self._snapshot_bytes / 1_000_000

    def flush(self) -> None:
        """Save what changed since the last save, now."""
        if self._save_timer is not None:
            self._save_timer.cancel()
            self._save_timer = None
        if self.persist_path is None or not self._unsaved:
            return
        self.persist_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.persist_path.with_suffix(self.persist_path.suffix + ".tmp")
        snapshot = self.world.model_dump_json()
        temporary.write_text(snapshot, encoding="utf-8")
        self._snapshot_bytes = len(snapshot)
        # Atomic replace: a crash mid-write never leaves half a snapshot.
        os.replace(temporary, self.persist_path)
        self._unsaved = False


def _check_endpoint(endpoint: str) -> None:
    if endpoint not in ENDPOINT_NAMES:
        raise AdminError(
            400, f"unknown endpoint {endpoint}; one of {', '.join(sorted(ENDPOINT_NAMES))}"
        )
