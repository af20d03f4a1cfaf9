"""Property tests: answers round-trip, and no JSON the server sends crashes the client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from services.approvalflow import ApprovalFlowClient
from services.approvalflow.models import (
    ChangeSetDetail,
    ChangeSetList,
    ChangeSetPreflight,
    ChangeSetSaved,
    ChangeSetSubmission,
    PagePreflight,
    PageSubmitResult,
    RollupState,
)
from services.errors import ApprovalsError, RequestRejected, UpstreamUnavailable
from tests.approvalflow.test_boundary import SETTINGS, StaticVault
from tests.fakes.clock import FakeClock
from tests.refused import said

ABSENT = object()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
# What a server plausibly gets wrong: numbers as strings, strings as numbers, "true", nulls.
plausibly_wrong = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(["true", "false", "yes", "1", "0", "", "null"]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.lists(scalars, max_size=2),
)
ids = st.one_of(st.from_regex(r"(cs-)?[a-z0-9]{1,8}", fullmatch=True), st.integers(1, 10**12))
versions = st.integers(min_value=1, max_value=10**6)
states = st.one_of(st.sampled_from([s.value for s in RollupState]), st.text(max_size=12))
texts = st.text(max_size=40)
timestamps = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.000Z")), st.text(max_size=20)
)


def value(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: usually right, sometimes absent, null, plausibly wrong or anything."""
    spoilt = [st.just(ABSENT), plausibly_wrong, json_values]
    return st.integers(0, 11).flatmap(lambda pick: good if pick < 9 else spoilt[pick - 9])


def obj(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with these fields (each possibly spoilt) plus a few unknown ones."""

    def build(known: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        merged = {k: v for k, v in extra.items() if k not in fields}
        merged.update({k: v for k, v in known.items() if v is not ABSENT})
        return merged

    return st.builds(
        build,
        st.fixed_dictionaries({name: value(good) for name, good in fields.items()}),
        st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=3),
    )


page_ref = obj(
    {
        "pageId": ids,
        "currentPageVersion": versions,
        "approvedAtVersion": st.none() | versions,
        "isStale": st.booleans(),
        "versionDelta": st.none() | st.integers(0, 50),
    }
)
change_set = obj(
    {
        "id": ids,
        "spaceId": ids,
        "title": texts,
        "summary": texts,
        "referenceUrl": texts,
        "status": st.sampled_from(["open", "archived", "closed"]),
        "rollupState": states,
        "pageRefs": st.lists(page_ref | ids, max_size=4),
        "createdAt": timestamps,
        "createdBy": ids,
    }
)
success = st.booleans()
change_set_list = obj({"success": success, "changeSets": st.lists(change_set, max_size=3)})
change_set_detail = obj({"success": success, "changeSet": change_set}) | change_set
change_set_saved = obj({"success": success, "changeSet": change_set, "changeSetId": ids, "id": ids})
page_preflight = obj(
    {"pageId": ids, "canSubmit": st.booleans(), "workflowId": ids, "reason": texts}
)
change_set_preflight = obj(
    {
        "success": success,
        "summary": obj({"total": versions, "submittable": versions, "blocked": versions}),
        "results": st.lists(page_preflight, max_size=4),
    }
)
submit_result = obj({"pageId": ids, "success": st.booleans(), "workflowId": ids, "reason": texts})
change_set_submission = obj(
    {
        "success": success,
        "submittedCount": versions,
        "skippedCount": versions,
        "results": st.lists(submit_result, max_size=4),
    }
)
single_page = st.one_of(
    page_preflight | submit_result,
    obj({"success": success, "result": page_preflight | submit_result}),
    obj({"success": success, "results": st.lists(page_preflight | submit_result, max_size=2)}),
)

MODELS: list[tuple[type[BaseModel], st.SearchStrategy[Any]]] = [
    (ChangeSetList, change_set_list),
    (ChangeSetDetail, change_set_detail),
    (ChangeSetSaved, change_set_saved),
    (ChangeSetPreflight, change_set_preflight),
    (ChangeSetSubmission, change_set_submission),
    (PagePreflight, page_preflight),
    (PageSubmitResult, submit_result),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODELS).flatmap(lambda pair: st.tuples(st.just(pair[0]), pair[1])))
def test_answers_round_trip(case: tuple[type[BaseModel], dict[str, Any]]) -> None:
    model, document = case
    try:
        parsed = model.model_validate(document)
    except ValueError:
        return  # unreadable answers are the next test's business
    assert model.model_validate(parsed.model_dump()) == parsed
    assert model.model_validate_json(parsed.model_dump_json()) == parsed
    # Unknown fields survive, under the names the server used.
    extra = parsed.model_extra or {}
    assert all(document[key] == extra[key] for key in extra)


Call = Callable[[ApprovalFlowClient], Awaitable[object]]
CALLS: list[tuple[str, Call, st.SearchStrategy[Any]]] = [
    ("list", lambda c: c.list_change_sets("U1", "98301"), change_set_list),
    ("detail", lambda c: c.change_set_detail("U1", "cs-1"), change_set_detail),
    (
        "create",
        lambda c: c.create_change_set("U1", space_id="98301", title="T", page_ids=["1"]),
        change_set_saved,
    ),
    ("update", lambda c: c.update_change_set("U1", "cs-1", title="T"), change_set_saved),
    ("archive", lambda c: c.archive_change_set("U1", "cs-1"), change_set_saved),
    ("submit", lambda c: c.submit_change_set("U1", "cs-1"), change_set_submission),
    ("preflight", lambda c: c.preflight_change_set("U1", "cs-1"), change_set_preflight),
    ("submit_page", lambda c: c.submit_page("U1", "5"), single_page),
    ("preflight_page", lambda c: c.preflight_page("U1", "5"), single_page),
]


def any_call_with_a_body() -> st.SearchStrategy[tuple[str, Call, bytes]]:
    def with_body(entry: tuple[str, Call, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
        name, call, documents = entry
        bodies = st.one_of(
            documents.map(lambda d: json.dumps(d).encode()),
            documents.map(lambda d: json.dumps(d).encode()),
            json_values.map(lambda d: json.dumps(d).encode()),
            obj({"success": st.just(False), "error": texts}).map(lambda d: json.dumps(d).encode()),
            st.binary(max_size=30),
        )
        return st.tuples(st.just(name), st.just(call), bodies)

    return st.sampled_from(CALLS).flatmap(with_body)


def run(call: Call, status: int, body: bytes) -> object:
    async def go() -> object:
        client = ApprovalFlowClient(
            SETTINGS,
            StaticVault(),
            clock=FakeClock(),
            sleep=_no_wait,
            jitter=lambda: 0.5,
            transport=httpx.MockTransport(lambda request: httpx.Response(status, content=body)),
        )
        async with client:
            return await call(client)

    return asyncio.run(go())


async def _no_wait(seconds: float) -> None:
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_call_with_a_body())
def test_no_2xx_answer_crashes_the_client(case: tuple[str, Call, bytes]) -> None:
    name, call, body = case
    try:
        result = run(call, 200, body)
    except UpstreamUnavailable:
        return  # unusable: said so in our terms
    except RequestRejected as refused:
        assert json.loads(body)["success"] is False  # a 2xx carrying ApprovalFlow's error body
        assert said(refused).startswith("ApprovalFlow refused the request")
        assert not said(refused).endswith(": .")
        return
    assert isinstance(result, BaseModel | tuple), (name, result)


@settings(max_examples=200, deadline=None)
@given(
    any_call_with_a_body(),
    st.sampled_from([301, 400, 401, 403, 404, 405, 408, 409, 418, 422, 429, 500, 502, 503, 599]),
)
def test_no_error_answer_escapes_the_tree(case: tuple[str, Call, bytes], status: int) -> None:
    _, call, body = case
    try:
        run(call, status, body)
    except ApprovalsError:
        return
    raise AssertionError(f"HTTP {status} did not raise")
