"""ApprovalFlowClient against the running sandbox over HTTP: every endpoint, every error class."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from emulators.approvalflow.seed import ALICE, BOB, ENG_SPACE, QMS_SPACE, SITE_ID
from services.approvalflow.models import RollupState
from services.errors import (
    AppApisDisabled,
    LicenceInactive,
    LinkBroken,
    MissingScope,
    NotFound,
    NotLinked,
    RateLimited,
    RequestRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from testkit.redis_server import free_port
from tests.approvalflow.conftest import ALICE_SLACK, APP_ID, BOB_SLACK, ENV_ID, Harness
from tests.refused import refused, said

# --- every endpoint ------------------------------------------------------------------------


async def test_list_change_sets(af: Harness) -> None:
    sets = await af.client.list_change_sets(ALICE_SLACK, ENG_SPACE)
    by_id = {change_set.id: change_set for change_set in sets}
    assert {cid: cs.rollup for cid, cs in by_id.items()} == {
        "cs-eng184": RollupState.OPEN,
        "cs-eng190": RollupState.IN_REVIEW,
        "cs-eng201": RollupState.PARTIALLY_APPROVED,
        "cs-eng170": RollupState.STALE,
        "cs-eng150": RollupState.ALL_APPROVED,
    }
    first = by_id["cs-eng184"]
    assert first.title == "PR-184 Auth docs update" and first.space_id == ENG_SPACE
    assert first.page_ids == ("65601", "65602", "65603")
    assert first.created_by == ALICE and first.created_at is not None
    assert by_id["cs-eng150"].archived and not first.archived
    [call] = af.state.calls_to("list_change_sets")
    assert call.params == {"spaceId": ENG_SPACE} and call.body is None
    assert call.account_id == ALICE  # the bearer says who acted


async def test_change_set_detail_has_versions(af: Harness) -> None:
    stale = await af.client.change_set_detail(ALICE_SLACK, "cs-eng170")
    assert stale.rollup is RollupState.STALE
    edited, approved = stale.page_refs
    assert (edited.page_id, edited.current_page_version, edited.approved_at_version) == (
        "65608",
        15,
        14,
    )
    assert edited.is_stale is True and edited.version_delta == 1
    assert approved.is_stale is False and approved.version_delta == 0


async def test_create_update_archive(af: Harness) -> None:
    created = await af.client.create_change_set(
        ALICE_SLACK,
        space_id=ENG_SPACE,
        title="PR-222 Glossary",
        summary="New terms",
        reference_url="https://git.example.com/docs/pull/222",
        page_ids=["65611", "65610"],
    )
    new_id = created.saved_id
    assert new_id is not None and created.change_set is not None
    assert created.change_set.rollup is RollupState.OPEN
    assert created.change_set.created_by == ALICE

    updated = await af.client.update_change_set(
        ALICE_SLACK, new_id, title="PR-222 Glossary (v2)", page_ids=["65611"]
    )
    assert updated.change_set is not None
    assert updated.change_set.title == "PR-222 Glossary (v2)"
    assert updated.change_set.summary == "New terms"  # omitted fields are not sent
    assert updated.change_set.page_ids == ("65611",)
    [update_call] = af.state.calls_to("update_change_set")
    assert update_call.body == {
        "changeSetId": new_id,
        "title": "PR-222 Glossary (v2)",
        "pageRefs": [{"pageId": "65611"}],
    }

    archived = await af.client.archive_change_set(ALICE_SLACK, new_id)
    assert archived.change_set is not None and archived.change_set.archived
    with pytest.raises(RequestRejected) as refused:
        await af.client.update_change_set(ALICE_SLACK, new_id, title="again")
    assert "archived and read-only" in said(refused.value)
    assert refused.value.server_error == f"Change set {new_id} is archived and read-only"


async def test_preflight_change_set(af: Harness) -> None:
    checked = await af.client.preflight_change_set(ALICE_SLACK, "cs-qms033")
    assert checked.summary is not None
    assert (checked.summary.total, checked.summary.submittable, checked.summary.blocked) == (
        5,
        1,
        4,
    )
    assert [r.page_id for r in checked.submittable] == ["65706"]
    assert checked.submittable[0].workflow_id == "wf-qms-sop"
    assert {r.page_id: r.reason for r in checked.blocked} == {
        "65705": "No workflow assigned to page",
        "65707": "Page has been deleted",
        "65708": "Page already has a pending approval",
        "65709": "Page is not published",
    }


async def test_submit_change_set_partial_success_is_returned_whole(af: Harness) -> None:
    submission = await af.client.submit_change_set(ALICE_SLACK, "cs-qms033")
    assert submission.success is True
    assert (submission.submitted_count, submission.skipped_count) == (1, 4)
    assert [(r.page_id, r.success) for r in submission.results] == [
        ("65705", False),
        ("65706", True),
        ("65707", False),
        ("65708", False),
        ("65709", False),
    ]
    [submitted] = submission.submitted
    assert submitted.workflow_id == "wf-qms-sop" and submitted.reason is None
    assert {r.page_id: r.reason for r in submission.skipped}["65705"] == (
        "No workflow assigned to page"
    )
    [call] = af.state.calls_to("submit_change_set")
    assert call.body == {"changeSetId": "cs-qms033"} and call.account_id == ALICE


async def test_page_preflight_and_submit(af: Harness) -> None:
    ok = await af.client.preflight_page(ALICE_SLACK, "65611")
    assert (ok.page_id, ok.can_submit, ok.workflow_id) == ("65611", True, "wf-eng-review")
    blocked = await af.client.preflight_page(ALICE_SLACK, "65710")
    assert blocked.can_submit is False and blocked.reason == "No workflow assigned to page"

    result = await af.client.submit_page(ALICE_SLACK, "65611")
    assert (result.page_id, result.success, result.workflow_id) == ("65611", True, "wf-eng-review")
    with refused(RequestRejected, match="No workflow assigned to page"):
        await af.client.submit_page(ALICE_SLACK, "65710")


async def test_each_call_acts_as_its_own_user(af: Harness) -> None:
    await af.vault.link(BOB_SLACK, "bob@example.com")
    await af.client.preflight_page(BOB_SLACK, "65611")
    await af.client.preflight_page(ALICE_SLACK, "65611")
    assert [c.account_id for c in af.state.calls_to("preflight_page")] == [BOB, ALICE]
    with pytest.raises(NotLinked):
        await af.client.preflight_page("U0NOBODY", "65611")


async def test_site_gateway_base_url(af: Harness) -> None:
    client = af.make_client(base_url=f"{af.url}/svc/confluence/{SITE_ID}/apps/{APP_ID}_{ENV_ID}/")
    assert len(await client.list_change_sets(ALICE_SLACK, QMS_SPACE)) == 3


# --- 429 and backoff -------------------------------------------------------------------------


async def test_429_then_success_honours_retry_after(af: Harness) -> None:
    af.state.inject_fault("list_change_sets", status=429, retry_after=7)
    assert len(await af.client.list_change_sets(ALICE_SLACK, ENG_SPACE)) == 5
    assert af.sleeps == [7.0]
    assert [c.status for c in af.state.calls_to("list_change_sets")] == [429, 200]


async def test_429_without_retry_after_backs_off_then_gives_up(af: Harness) -> None:
    af.state.inject_fault("preflight_change_set", status=429, count=None)
    with pytest.raises(RateLimited) as limited:
        await af.client.preflight_change_set(ALICE_SLACK, "cs-eng184")
    assert af.sleeps == [5.0, 10.0, 20.0]  # 4 tries in all; jitter fixed at a factor of 1
    assert len(af.state.calls_to("preflight_change_set")) == 4
    assert limited.value.retry_after is None


async def test_429_on_a_submit_is_not_repeated(af: Harness) -> None:
    af.state.inject_fault("submit_change_set", status=429, retry_after=3)
    with pytest.raises(RateLimited) as limited:
        await af.client.submit_change_set(ALICE_SLACK, "cs-eng184")
    assert limited.value.retry_after == 3.0 and not limited.value.outcome_unknown
    assert af.sleeps == [] and len(af.state.calls_to("submit_change_set")) == 1


# --- 401: refresh once, then reconnect ----------------------------------------------------------


async def test_401_refreshes_once_then_succeeds(af: Harness) -> None:
    af.sandbox.clock.advance(hours=2)  # the access token has expired; the refresh token has not
    detail = await af.client.change_set_detail(ALICE_SLACK, "cs-eng184")
    assert detail.id == "cs-eng184"
    assert af.vault.rejections == [ALICE_SLACK]
    assert af.state.refresh_count("alice@example.com") == 1
    assert [c.status for c in af.state.calls_to("change_set_detail")] == [401, 200]


async def test_401_on_a_submit_refreshes_and_submits_once(af: Harness) -> None:
    af.sandbox.clock.advance(hours=2)
    submission = await af.client.submit_change_set(ALICE_SLACK, "cs-eng184")
    assert len(submission.submitted) == 3
    # The gateway refused the first call before ApprovalFlow ran: one submit happened.
    assert [c.status for c in af.state.calls_to("submit_change_set")] == [401, 200]


async def test_401_twice_is_link_broken(af: Harness) -> None:
    af.state.inject_fault("change_set_detail", status=401, count=2)
    with refused(LinkBroken, match="/approvals connect"):
        await af.client.change_set_detail(ALICE_SLACK, "cs-eng184")
    assert af.vault.rejections == [ALICE_SLACK]
    assert len(af.state.calls_to("change_set_detail")) == 2


async def test_revoked_grant_is_link_broken(af: Harness) -> None:
    af.state.revoke_grants("alice@example.com")
    with pytest.raises(LinkBroken):
        await af.client.list_change_sets(ALICE_SLACK, ENG_SPACE)
    assert af.vault.rejections == [ALICE_SLACK]


# --- 403: scope, licence, App REST APIs -----------------------------------------------------------


async def test_scope_403_names_the_missing_scope(af: Harness) -> None:
    reader = "read:forge-app:confluence read:change-set:custom read:approval:custom"
    await af.vault.link(BOB_SLACK, "bob@example.com", scope=reader)
    with pytest.raises(MissingScope) as missing:
        await af.client.submit_change_set(BOB_SLACK, "cs-eng184")
    assert missing.value.scopes == ["write:change-set:custom"]
    assert "write:change-set:custom" in said(missing.value)
    assert "/approvals connect" in said(missing.value)
    with pytest.raises(MissingScope) as page_scope:
        await af.client.submit_page(BOB_SLACK, "65611")
    assert page_scope.value.scopes == ["write:approval:custom"]


async def test_missing_product_scope_is_named(af: Harness) -> None:
    await af.vault.link(BOB_SLACK, "bob@example.com", scope="read:change-set:custom")
    with pytest.raises(MissingScope) as missing:
        await af.client.list_change_sets(BOB_SLACK, ENG_SPACE)
    assert missing.value.scopes == ["read:forge-app:confluence"]


async def test_licence_inactive(af: Harness) -> None:
    af.state.set_switches(licence_active=False)
    with refused(LicenceInactive, match="licence is not active"):
        await af.client.preflight_change_set(ALICE_SLACK, "cs-eng184")
    assert len(af.state.calls_to("preflight_change_set")) == 1  # not retried


async def test_app_rest_apis_disabled_tells_an_admin_how_to_enable(af: Harness) -> None:
    af.state.set_switches(app_rest_apis_enabled=False)
    with pytest.raises(AppApisDisabled) as disabled:
        await af.client.list_change_sets(ALICE_SLACK, ENG_SPACE)
    text = said(disabled.value)
    assert "App REST APIs" in text and "Connected apps" in text and "admin" in text


# --- 404 and 400 --------------------------------------------------------------------------------


async def test_unknown_change_set_is_not_found(af: Harness) -> None:
    # The sandbox answers 400 "Change set not found: ..." (the docs give no 404 for it).
    with refused(NotFound, match="Change set not found: cs-nope"):
        await af.client.change_set_detail(ALICE_SLACK, "cs-nope")


async def test_404_from_approvalflow_and_from_the_gateway(af: Harness) -> None:
    af.state.inject_fault(
        "change_set_detail", status=404, body={"success": False, "error": "No such change set"}
    )
    with refused(NotFound, match="No such change set"):
        await af.client.change_set_detail(ALICE_SLACK, "cs-eng184")
    af.state.app_id = "another-app"  # the gateway does not know our app/env ids
    with refused(NotFound, match="APPROVALFLOW_APP_ID"):
        await af.client.change_set_detail(ALICE_SLACK, "cs-eng184")


async def test_400_shows_the_servers_error_text(af: Harness) -> None:
    with pytest.raises(RequestRejected) as refused:
        await af.client.create_change_set(
            ALICE_SLACK, space_id=ENG_SPACE, title="Mixed", page_ids=["65601", "65701"]
        )
    assert refused.value.server_error == f"Page 65701 is not in space {ENG_SPACE}"
    assert said(refused.value) == (
        f"ApprovalFlow refused the request: Page 65701 is not in space {ENG_SPACE}."
    )


# --- 5xx, timeouts, no connection ---------------------------------------------------------------


async def test_500_on_a_read_is_retried(af: Harness) -> None:
    af.state.inject_fault("change_set_detail", status=500)
    assert (await af.client.change_set_detail(ALICE_SLACK, "cs-eng184")).id == "cs-eng184"
    assert af.sleeps == [5.0]
    assert [c.status for c in af.state.calls_to("change_set_detail")] == [500, 200]


async def test_500_that_persists_on_a_read_gives_up_after_4_tries(af: Harness) -> None:
    af.state.inject_fault("preflight_page", status=503, count=None)
    with pytest.raises(UpstreamUnavailable, match="503") as failed:
        await af.client.preflight_page(ALICE_SLACK, "65611")
    assert not failed.value.outcome_unknown  # a read changed nothing
    assert len(af.state.calls_to("preflight_page")) == 4


async def test_500_on_a_submit_is_not_repeated(af: Harness) -> None:
    af.state.inject_fault("submit_change_set", status=500)
    with pytest.raises(UpstreamUnavailable) as failed:
        await af.client.submit_change_set(ALICE_SLACK, "cs-eng184")
    assert failed.value.outcome_unknown and "check before trying again" in str(failed.value)
    assert len(af.state.calls_to("submit_change_set")) == 1 and af.sleeps == []


async def test_timeout_on_a_preflight_is_retried(af: Harness) -> None:
    client = af.make_client(timeout_seconds=0.3)
    af.state.inject_fault("preflight_change_set", status=None, hang_seconds=1.0)
    checked = await client.preflight_change_set(ALICE_SLACK, "cs-eng184")
    assert len(checked.submittable) == 3 and af.sleeps == [5.0]


class CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting what leaves the client."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(
            request.url.path.rsplit("/", 2)[-2] + "/" + request.url.path.rsplit("/", 1)[-1]
        )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_timeout_on_a_submit_is_not_repeated(af: Harness) -> None:
    counting = CountingTransport()
    client = af.make_client(timeout_seconds=0.3, transport=counting)
    af.state.inject_fault("submit_change_set", status=None, hang_seconds=0.6)
    with pytest.raises(UpstreamTimeout) as timed_out:
        await client.submit_change_set(ALICE_SLACK, "cs-eng184")
    assert timed_out.value.outcome_unknown
    assert "check before trying again" in str(timed_out.value)
    await asyncio.sleep(0.6)  # past the hang: room for a repeat to show up, were there one
    assert counting.sent == ["changeSets/submit"] and af.sleeps == []
    # The sandbox did the submit and only answered late: exactly one submit, done once.
    calls = af.state.calls_to("submit_change_set")
    assert len(calls) == 1 and calls[0].status == 200


async def test_no_connection(af: Harness) -> None:
    client = af.make_client(api_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamUnavailable, match="could not connect") as read:
        await client.list_change_sets(ALICE_SLACK, ENG_SPACE)
    assert af.sleeps == [5.0, 10.0, 20.0] and not read.value.outcome_unknown
    af.sleeps.clear()
    with pytest.raises(UpstreamUnavailable) as write:
        await client.submit_page(ALICE_SLACK, "65611")
    # Never connected, so nothing was sent; still a write is not retried.
    assert af.sleeps == [] and not write.value.outcome_unknown


# --- what the bodies carry --------------------------------------------------------------------


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for item in value.values() for k in _keys(item)}
    if isinstance(value, list):
        return {k for item in value for k in _keys(item)}
    return set()


async def test_no_body_or_query_carries_a_user_or_account_id(af: Harness) -> None:
    client, user = af.client, ALICE_SLACK
    created = await client.create_change_set(
        user, space_id=ENG_SPACE, title="T", page_ids=["65611"], summary="s"
    )
    new_id = created.saved_id
    assert new_id is not None
    await client.list_change_sets(user, ENG_SPACE)
    await client.change_set_detail(user, new_id)
    await client.update_change_set(user, new_id, summary="s2", page_ids=["65611", "65610"])
    await client.preflight_change_set(user, new_id)
    await client.submit_change_set(user, new_id)
    await client.preflight_page(user, "65606")
    await client.submit_page(user, "65601")
    await client.archive_change_set(user, "cs-eng201")

    calls = [c for c in af.state.calls if c.endpoint not in ("authorize", "token")]
    assert {c.endpoint for c in calls} == {
        "list_change_sets",
        "change_set_detail",
        "create_change_set",
        "update_change_set",
        "archive_change_set",
        "submit_change_set",
        "preflight_change_set",
        "submit_page",
        "preflight_page",
    }
    documented = {
        "spaceId",
        "changeSetId",
        "title",
        "summary",
        "referenceUrl",
        "pageRefs",
        "pageId",
    }
    for call in calls:
        assert call.status == 200, call
        sent = _keys(call.body) | set(call.params)
        assert sent <= documented, call
        assert not any("user" in k.lower() or "account" in k.lower() for k in sent)
        text = f"{call.body} {call.params} {call.path}"
        assert ALICE not in text and ALICE_SLACK not in text
        assert call.account_id == ALICE  # who acted comes from the bearer alone
