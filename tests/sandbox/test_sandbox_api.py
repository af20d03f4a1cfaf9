"""The sandbox's ApprovalFlow API: the 9 endpoints, gateway checks, reviews, faults, records."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from emulators.approvalflow.seed import ALICE, BOB, SITE_ID
from tests.sandbox.conftest import ALL_SCOPES, API, Sandbox

LIST_KEYS = {
    "id",
    "spaceId",
    "title",
    "summary",
    "referenceUrl",
    "status",
    "rollupState",
    "pageRefs",
    "createdAt",
    "createdBy",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def alice(sandbox: Sandbox) -> str:
    return await sandbox.bearer("alice@example.com")


async def get(sandbox: Sandbox, token: str, path: str, **params: str) -> httpx.Response:
    return await sandbox.http.get(f"{API}{path}", params=params, headers=auth(token))


async def post(sandbox: Sandbox, token: str, path: str, body: Any) -> httpx.Response:
    return await sandbox.http.post(f"{API}{path}", json=body, headers=auth(token))


async def detail(sandbox: Sandbox, token: str, change_set_id: str) -> dict[str, Any]:
    answer = await get(sandbox, token, "/changeSets/detail", changeSetId=change_set_id)
    assert answer.status_code == 200, answer.text
    change_set: dict[str, Any] = answer.json()["changeSet"]
    return change_set


def refused(answer: httpx.Response, status: int, error: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json() == {"success": False, "error": error}


# --- the 9 endpoints ---------------------------------------------------------------------


async def test_list_change_sets(sandbox: Sandbox, alice: str) -> None:
    answer = await get(sandbox, alice, "/changeSets", spaceId="98301")
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True
    states = {c["id"]: (c["status"], c["rollupState"]) for c in body["changeSets"]}
    assert states == {
        "cs-eng184": ("open", "open"),
        "cs-eng190": ("open", "in_review"),
        "cs-eng201": ("open", "partially_approved"),
        "cs-eng170": ("open", "stale"),
        "cs-eng150": ("archived", "all_approved"),
    }
    first = body["changeSets"][0]
    assert set(first) == LIST_KEYS
    assert first["pageRefs"] == [{"pageId": "65601"}, {"pageId": "65602"}, {"pageId": "65603"}]
    assert first["createdBy"] == ALICE and first["createdAt"].endswith(".000Z")

    qms = (await get(sandbox, alice, "/changeSets", spaceId="98302")).json()["changeSets"]
    assert {c["id"]: c["rollupState"] for c in qms} == {
        "cs-qms012": "all_approved",
        "cs-qms015": "has_rejections",
        "cs-qms033": "open",
    }
    in_body = await sandbox.http.request(
        "GET", f"{API}/changeSets", json={"spaceId": "98302"}, headers=auth(alice)
    )
    assert len(in_body.json()["changeSets"]) == 3  # "Query or body" (§2.1)
    refused(await get(sandbox, alice, "/changeSets"), 400, "spaceId is required")
    refused(await get(sandbox, alice, "/changeSets", spaceId="1"), 400, "Space not found: 1")


async def test_change_set_detail(sandbox: Sandbox, alice: str) -> None:
    stale = await detail(sandbox, alice, "cs-eng170")
    assert stale["rollupState"] == "stale"
    assert stale["pageRefs"] == [
        {
            "pageId": "65608",
            "currentPageVersion": 15,
            "approvedAtVersion": 14,
            "isStale": True,
            "versionDelta": 1,
        },
        {
            "pageId": "65609",
            "currentPageVersion": 6,
            "approvedAtVersion": 6,
            "isStale": False,
            "versionDelta": 0,
        },
    ]
    pending = (await detail(sandbox, alice, "cs-eng190"))["pageRefs"][0]
    assert pending["approvedAtVersion"] is None and pending["isStale"] is False
    refused(await get(sandbox, alice, "/changeSets/detail"), 400, "changeSetId is required")
    refused(
        await get(sandbox, alice, "/changeSets/detail", changeSetId="cs-nope"),
        400,
        "Change set not found: cs-nope",
    )


async def test_create_change_set(sandbox: Sandbox, alice: str) -> None:
    answer = await post(
        sandbox,
        alice,
        "/changeSets",
        {
            "spaceId": "98301",
            "title": "PR-222 Glossary",
            "summary": "Terms",
            "referenceUrl": "https://github.com/acme/docs/pull/222",
            "pageRefs": [{"pageId": "65611"}, {"pageId": "65610"}],
        },
    )
    assert answer.status_code == 200, answer.text
    created = answer.json()["changeSet"]
    assert answer.json()["success"] is True and set(created) == LIST_KEYS
    assert created["id"].startswith("cs-") and created["rollupState"] == "open"
    assert created["status"] == "open" and created["createdBy"] == ALICE
    assert (await detail(sandbox, alice, created["id"]))["title"] == "PR-222 Glossary"

    base = {"spaceId": "98301", "title": "T", "pageRefs": [{"pageId": "65601"}]}
    refused(
        await post(sandbox, alice, "/changeSets", {**base, "title": ""}), 400, "title is required"
    )
    refused(
        await post(sandbox, alice, "/changeSets", {**base, "pageRefs": [{"pageId": "65701"}]}),
        400,
        "Page 65701 is not in space 98301",
    )
    refused(
        await post(sandbox, alice, "/changeSets", {**base, "pageRefs": []}),
        400,
        'pageRefs must be a non-empty array of {"pageId": string}',
    )
    refused(
        await post(sandbox, alice, "/changeSets", {**base, "spaceId": 98301}),
        400,
        "spaceId must be a string",
    )
    not_json = await sandbox.http.post(
        f"{API}/changeSets", content=b"spaceId=98301", headers=auth(alice)
    )
    refused(not_json, 400, "The request body must be a JSON object")


async def test_update_change_set(sandbox: Sandbox, alice: str) -> None:
    answer = await post(
        sandbox,
        alice,
        "/changeSets/update",
        {
            "changeSetId": "cs-eng184",
            "title": "PR-184 Auth docs (v2)",
            "pageRefs": [{"pageId": "65601"}, {"pageId": "65602"}, {"pageId": "65611"}],
        },
    )
    assert answer.status_code == 200, answer.text
    updated = answer.json()["changeSet"]
    assert updated["title"] == "PR-184 Auth docs (v2)"
    assert updated["summary"] == "Auth docs for the new SSO flow"  # untouched
    assert [ref["pageId"] for ref in updated["pageRefs"]] == ["65601", "65602", "65611"]
    refused(
        await post(
            sandbox, alice, "/changeSets/update", {"changeSetId": "cs-eng150", "title": "x"}
        ),
        400,
        "Change set cs-eng150 is archived and read-only",
    )
    bad = await post(
        sandbox,
        alice,
        "/changeSets/update",
        {"changeSetId": "cs-eng184", "title": "ok", "referenceUrl": "ftp://x"},
    )
    refused(bad, 400, "referenceUrl must be an http(s) URL")
    assert (await detail(sandbox, alice, "cs-eng184"))["title"] == "PR-184 Auth docs (v2)"


async def test_archive_change_set(sandbox: Sandbox, alice: str) -> None:
    answer = await post(sandbox, alice, "/changeSets/archive", {"changeSetId": "cs-qms012"})
    assert answer.status_code == 200
    assert answer.json()["changeSet"]["status"] == "archived"
    assert answer.json()["changeSet"]["rollupState"] == "all_approved"
    refused(
        await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-qms012"}),
        400,
        "Change set cs-qms012 is archived and read-only",
    )
    refused(await post(sandbox, alice, "/changeSets/archive", {}), 400, "changeSetId is required")


async def test_submit_change_set_moves_pages_into_review(sandbox: Sandbox, alice: str) -> None:
    answer = await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-eng184"})
    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "submittedCount": 3,
        "skippedCount": 0,
        "results": [
            {"pageId": page_id, "success": True, "workflowId": "wf-eng-review"}
            for page_id in ("65601", "65602", "65603")
        ],
    }
    assert (await detail(sandbox, alice, "cs-eng184"))["rollupState"] == "in_review"
    again = await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-eng184"})
    assert again.json()["submittedCount"] == 0 and again.json()["skippedCount"] == 3
    assert {r["reason"] for r in again.json()["results"]} == {"Page already has a pending approval"}


async def test_partial_success_submit(sandbox: Sandbox, alice: str) -> None:
    answer = await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-qms033"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True
    assert (body["submittedCount"], body["skippedCount"]) == (1, 4)
    assert body["results"] == [
        {"pageId": "65705", "success": False, "reason": "No workflow assigned to page"},
        {"pageId": "65706", "success": True, "workflowId": "wf-qms-sop"},
        {"pageId": "65707", "success": False, "reason": "Page has been deleted"},
        {"pageId": "65708", "success": False, "reason": "Page already has a pending approval"},
        {"pageId": "65709", "success": False, "reason": "Page is not published"},
    ]
    assert (await detail(sandbox, alice, "cs-qms033"))["rollupState"] == "in_review"


async def test_preflight_change_set_writes_nothing(sandbox: Sandbox, alice: str) -> None:
    approvals = len(sandbox.state.world.approvals)
    first = await post(sandbox, alice, "/changeSets/preflight", {"changeSetId": "cs-qms033"})
    second = await post(sandbox, alice, "/changeSets/preflight", {"changeSetId": "cs-qms033"})
    assert first.status_code == 200 and first.json() == second.json()
    body = first.json()
    assert body["summary"] == {"total": 5, "submittable": 1, "blocked": 4}
    assert body["results"][1] == {"pageId": "65706", "canSubmit": True, "workflowId": "wf-qms-sop"}
    assert body["results"][0] == {
        "pageId": "65705",
        "canSubmit": False,
        "reason": "No workflow assigned to page",
    }
    assert len(sandbox.state.world.approvals) == approvals


async def test_single_page_preflight_and_submit(sandbox: Sandbox, alice: str) -> None:
    check = await post(sandbox, alice, "/pages/preflight", {"pageId": "65611"})
    assert check.json() == {
        "success": True,
        "pageId": "65611",
        "canSubmit": True,
        "workflowId": "wf-eng-review",
    }
    blocked = await post(sandbox, alice, "/pages/preflight", {"pageId": "65710"})
    assert blocked.json()["canSubmit"] is False
    assert blocked.json()["reason"] == "No workflow assigned to page"

    submitted = await post(sandbox, alice, "/pages/submit", {"pageId": "65611"})
    assert submitted.status_code == 200
    assert submitted.json() == {"success": True, "pageId": "65611", "workflowId": "wf-eng-review"}
    refused(
        await post(sandbox, alice, "/pages/submit", {"pageId": "65611"}),
        400,
        "Page already has a pending approval",
    )
    refused(await post(sandbox, alice, "/pages/submit", {"pageId": "1"}), 400, "Page not found: 1")
    refused(
        await post(sandbox, alice, "/pages/submit", {"pageId": 65611}),
        400,
        "pageId must be a string",
    )


# --- gateway, scopes, switches -----------------------------------------------------------


async def test_scopes_are_checked_per_endpoint(sandbox: Sandbox) -> None:
    reader = await sandbox.bearer(
        "bob@example.com", "read:forge-app:confluence read:change-set:custom read:approval:custom"
    )
    assert (await get(sandbox, reader, "/changeSets", spaceId="98301")).status_code == 200
    assert (await post(sandbox, reader, "/pages/preflight", {"pageId": "65611"})).status_code == 200
    assert (
        await post(sandbox, reader, "/changeSets/preflight", {"changeSetId": "cs-eng184"})
    ).status_code == 200  # a POST that needs only a read scope (§1.2)
    refused(
        await post(sandbox, reader, "/changeSets/submit", {"changeSetId": "cs-eng184"}),
        403,
        "Insufficient OAuth scope: this call requires write:change-set:custom",
    )
    refused(
        await post(sandbox, reader, "/pages/submit", {"pageId": "65611"}),
        403,
        "Insufficient OAuth scope: this call requires write:approval:custom",
    )
    no_product = await sandbox.bearer(
        "carol@example.com", ALL_SCOPES.replace("read:forge-app:confluence", "")
    )
    refused(
        await get(sandbox, no_product, "/changeSets", spaceId="98301"),
        403,
        "Insufficient OAuth scope: this call requires read:forge-app:confluence",
    )


async def test_bearer_must_be_live(sandbox: Sandbox, alice: str) -> None:
    unauthorized = {"code": 401, "message": "Unauthorized"}
    none = await sandbox.http.get(f"{API}/changeSets", params={"spaceId": "98301"})
    assert none.status_code == 401 and none.json() == unauthorized
    assert (await get(sandbox, "garbage", "/changeSets", spaceId="98301")).json() == unauthorized
    sandbox.state.revoke_grants("alice@example.com")
    revoked = await get(sandbox, alice, "/changeSets", spaceId="98301")
    assert revoked.status_code == 401
    assert sandbox.state.calls_to("list_change_sets")[-1].account_id is None


async def test_switches(sandbox: Sandbox, alice: str) -> None:
    off = await sandbox.http.post("_sandbox/switches", json={"app_rest_apis_enabled": False})
    assert off.status_code == 200 and off.json()["app_rest_apis_enabled"] is False
    disabled = await get(sandbox, alice, "/changeSets", spaceId="98301")
    assert disabled.status_code == 403
    assert disabled.json() == {
        "code": 403,
        "message": "App REST APIs are disabled for this app on this site",
    }
    sandbox.state.set_switches(app_rest_apis_enabled=True, licence_active=False)
    refused(await get(sandbox, alice, "/changeSets", spaceId="98301"), 403, "License not active")
    sandbox.state.set_switches(licence_active=True)
    assert (await get(sandbox, alice, "/changeSets", spaceId="98301")).status_code == 200


async def test_configured_app_and_environment_ids(sandbox: Sandbox, alice: str) -> None:
    sandbox.state.app_id, sandbox.state.env_id = "af-app", "af-env"
    assert (await get(sandbox, alice, "/changeSets", spaceId="98301")).status_code == 200
    wrong = await sandbox.http.get(
        f"/svc/confluence/{SITE_ID}/apps/other_af-env/changeSets",
        params={"spaceId": "98301"},
        headers=auth(alice),
    )
    assert wrong.status_code == 404


# --- reviews move forward ----------------------------------------------------------------


async def test_edit_after_approval_makes_the_set_stale(sandbox: Sandbox, alice: str) -> None:
    assert (await detail(sandbox, alice, "cs-qms012"))["rollupState"] == "all_approved"
    edited = await sandbox.http.post("_sandbox/pages/65701/edit", json={"title": "SOP-001 v6"})
    assert edited.status_code == 200 and edited.json()["version"] == 6
    after = await detail(sandbox, alice, "cs-qms012")
    assert after["rollupState"] == "stale"
    assert after["pageRefs"][0] == {
        "pageId": "65701",
        "currentPageVersion": 6,
        "approvedAtVersion": 5,
        "isStale": True,
        "versionDelta": 1,
    }


async def test_resubmitting_a_stale_set_sends_only_the_stale_page(
    sandbox: Sandbox, alice: str
) -> None:
    answer = await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-eng170"})
    assert [r["success"] for r in answer.json()["results"]] == [True, False]
    assert (
        answer.json()["results"][1]["reason"] == "Page is already approved at its current version"
    )
    assert (await detail(sandbox, alice, "cs-eng170"))["rollupState"] == "partially_approved"
    sandbox.state.approve_page("65608", "carol@example.com")
    assert (await detail(sandbox, alice, "cs-eng170"))["rollupState"] == "all_approved"


async def test_approve_and_reject_move_the_rollup(sandbox: Sandbox, alice: str) -> None:
    assert (await detail(sandbox, alice, "cs-eng190"))["rollupState"] == "in_review"
    one = await sandbox.http.post("_sandbox/pages/65604/approve", json={"reviewer": BOB})
    assert one.status_code == 200 and one.json()["status"] == "approved"
    assert (await detail(sandbox, alice, "cs-eng190"))["rollupState"] == "partially_approved"
    await sandbox.http.post("_sandbox/pages/65605/approve", json={"reviewer": "carol@example.com"})
    approved = await detail(sandbox, alice, "cs-eng190")
    assert approved["rollupState"] == "all_approved"
    assert approved["pageRefs"][0]["approvedAtVersion"] == 21

    short = await sandbox.http.post(
        "_sandbox/pages/65607/reject", json={"reviewer": BOB, "comment": "too short"}
    )
    assert short.status_code == 400
    rejected = await sandbox.http.post(
        "_sandbox/pages/65607/reject",
        json={"reviewer": BOB, "comment": "The setup steps miss the VPN configuration."},
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert (await detail(sandbox, alice, "cs-eng201"))["rollupState"] == "has_rejections"


async def test_only_approvers_of_the_current_step_decide(sandbox: Sandbox, alice: str) -> None:
    await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-qms033"})
    # SOP workflow: step 1 needs Carol and Dave, step 2 Erin.
    early = await sandbox.http.post(
        "_sandbox/pages/65706/approve", json={"reviewer": "erin@example.com"}
    )
    assert early.status_code == 403
    sandbox.state.approve_page("65706", "carol@example.com")
    assert sandbox.state.approve_page("65706", "dave@example.com").step == 1
    final = sandbox.state.approve_page("65706", "erin@example.com")
    assert final.status == "approved" and final.approved_at_version == 4
    nothing = await sandbox.http.post("_sandbox/pages/65706/approve", json={"reviewer": BOB})
    assert nothing.status_code == 400


# --- faults, latency, records ------------------------------------------------------------


async def test_injected_500_then_normal(sandbox: Sandbox, alice: str) -> None:
    injected = await sandbox.http.post(
        "_sandbox/faults", json={"endpoint": "submit_change_set", "status": 500}
    )
    assert injected.status_code == 200
    refused(
        await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-eng184"}),
        500,
        "Internal server error",
    )
    ok = await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-eng184"})
    assert ok.status_code == 200 and ok.json()["submittedCount"] == 3


async def test_injected_429_with_retry_after_and_403_scope(sandbox: Sandbox, alice: str) -> None:
    await sandbox.http.post(
        "_sandbox/faults",
        json={"endpoint": "change_set_detail", "status": 429, "retry_after": 3, "count": 2},
    )
    for _ in range(2):
        limited = await get(sandbox, alice, "/changeSets/detail", changeSetId="cs-eng184")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert (await get(sandbox, alice, "/changeSets/detail", changeSetId="cs-eng184")).is_success
    sandbox.state.inject_fault("preflight_page", status=403)
    refused(
        await post(sandbox, alice, "/pages/preflight", {"pageId": "65611"}),
        403,
        "Insufficient OAuth scope: this call requires read:approval:custom",
    )
    assert (
        await sandbox.http.post("_sandbox/faults", json={"endpoint": "nope"})
    ).status_code == 400


async def test_latency_and_hanging_calls(sandbox: Sandbox, alice: str) -> None:
    await sandbox.http.post(
        "_sandbox/latency", json={"endpoint": "list_change_sets", "seconds": 0.3}
    )
    started = time.monotonic()
    assert (await get(sandbox, alice, "/changeSets", spaceId="98301")).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert (await sandbox.http.delete("_sandbox/faults")).status_code == 200

    sandbox.state.inject_fault("preflight_change_set", status=None, hang_seconds=0.6)
    with pytest.raises(httpx.ReadTimeout):
        await sandbox.http.post(
            f"{API}/changeSets/preflight",
            json={"changeSetId": "cs-eng184"},
            headers=auth(alice),
            timeout=0.2,
        )


async def test_a_held_answer_comes_after_the_work_and_when_released(
    sandbox: Sandbox, alice: str
) -> None:
    """A submit whose answer is held back: ApprovalFlow did it (recorded, the pages pending)
    before anyone hears so; released over HTTP, the held answer goes out at once."""
    await sandbox.http.post(
        "_sandbox/faults",
        json={"endpoint": "submit_change_set", "status": None, "hang_seconds": 60},
    )
    submitting = asyncio.create_task(
        post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-eng184"})
    )
    for _ in range(1000):
        if sandbox.state.calls_to("submit_change_set"):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the submit never reached the sandbox")
    assert not submitting.done()
    assert sandbox.state.rollup("cs-eng184") == "in_review"
    released = await sandbox.http.post("_sandbox/faults/release")
    assert released.json() == {"released": 1}
    async with asyncio.timeout(10):
        answer = await submitting
    assert answer.status_code == 200 and answer.json()["submittedCount"] == 3
    assert (await sandbox.http.post("_sandbox/faults/release")).json() == {"released": 0}


async def test_calls_are_recorded_with_who_acted(sandbox: Sandbox, alice: str) -> None:
    bob = await sandbox.bearer("bob@example.com")
    await post(sandbox, alice, "/changeSets/submit", {"changeSetId": "cs-eng184"})
    await get(sandbox, bob, "/changeSets/detail", changeSetId="cs-eng184")
    [submit] = sandbox.state.calls_to("submit_change_set")
    assert submit.account_id == ALICE and submit.status == 200 and submit.method == "POST"
    assert submit.body == {"changeSetId": "cs-eng184"}
    assert submit.path == f"{API}/changeSets/submit"
    answer = await sandbox.http.get(
        "_sandbox/calls", params={"endpoint": "change_set_detail", "who": "bob@example.com"}
    )
    [call] = answer.json()
    assert call["account_id"] == BOB and call["params"] == {"changeSetId": "cs-eng184"}
    # The submission itself records who submitted, like ApprovalFlow's audit (§5).
    assert sandbox.state.world.approvals[-1].submitted_by == ALICE
    assert (await sandbox.http.delete("_sandbox/calls")).status_code == 200
    assert not sandbox.state.calls


async def test_admin_clock_pages_and_reset(sandbox: Sandbox, alice: str) -> None:
    moved = await sandbox.http.post("_sandbox/clock", json={"set": "2027-01-01T00:00:00+00:00"})
    assert moved.json()["now"].startswith("2027-01-01T00:00:00")
    pages = (await sandbox.http.get("_sandbox/pages")).json()
    pending = next(p for p in pages if p["id"] == "65604")
    assert pending["approval"]["status"] == "pending" and pending["current_step_approvers"]
    change_sets = (await sandbox.http.get("_sandbox/change-sets")).json()
    assert len(change_sets) == 8
    await sandbox.http.post("_sandbox/pages/65601/edit", json={})
    assert (await sandbox.http.post("_sandbox/reset")).status_code == 200
    assert sandbox.state.page("65601").version == 7
    assert sandbox.state.now() == sandbox.clock.now()
    bad = await sandbox.http.post("_sandbox/clock", json={"set": "yesterday"})
    assert bad.status_code == 400 and "error" in bad.json()
