"""The Confluence v2 client against the sandbox: titles, versions, restrictions, batches, spaces."""

from __future__ import annotations

import httpx
import pytest

from emulators.approvalflow.models import Page
from emulators.approvalflow.seed import ENG_SPACE, SITE_ID
from services.confluence import ConfluenceClient, ConfluenceSettings
from services.errors import MissingScope, RateLimited, UpstreamUnavailable
from services.ports import Credential
from tests.confluence.conftest import WITH_CONFLUENCE, Confluence
from tests.sandbox.conftest import APPROVALFLOW_SCOPES

PAGES_PATH = f"/ex/confluence/{SITE_ID}/wiki/api/v2/pages"


async def test_pages_by_id_give_titles_versions_and_editors(cf: Confluence) -> None:
    pages = await cf.client.pages("U0ALICE", ["65602", "65601", "99999", "65608"])
    assert list(pages) == ["65602", "65601", "65608"]  # unknown ids left out, order kept
    auth = pages["65601"]
    assert (auth.title, auth.space_id, auth.version) == ("Authentication overview", ENG_SPACE, 7)
    assert auth.edited_by == cf.af.state.user("alice@example.com").account_id
    assert auth.edited_at is not None and auth.edited_at.tzinfo is not None
    # Seeded history: Bob edited the runbook after its approval.
    assert pages["65608"].edited_by == cf.af.state.user("bob@example.com").account_id
    assert len(cf.af.state.calls_to("confluence_pages")) == 1


async def test_a_restricted_page_is_left_out_for_the_account_kept_out(cf: Confluence) -> None:
    await cf.vault.link("U0DAVE", "dave@example.com", WITH_CONFLUENCE)
    assert "65603" in await cf.client.pages("U0ALICE", ["65603"])
    assert await cf.client.pages("U0DAVE", ["65601", "65603"]) == {
        "65601": (await cf.client.pages("U0ALICE", ["65601"]))["65601"]
    }


async def test_three_hundred_pages_take_two_bulk_calls(cf: Confluence) -> None:
    world = cf.af.state.world
    ids = [str(70000 + n) for n in range(300)]
    for page_id in ids:
        world.pages[page_id] = Page(id=page_id, space_id=ENG_SPACE, title=f"Spec {page_id}")
    cf.af.state.clear_calls()
    pages = await cf.client.pages("U0ALICE", ids)
    assert len(pages) == 300 and pages["70299"].title == "Spec 70299"
    calls = cf.af.state.calls_to("confluence_pages")
    assert [len(call.params["id"].split(",")) for call in calls] == [250, 50]
    assert {call.params["limit"] for call in calls} == {"250"}


async def test_the_client_follows_the_cursor_until_the_answer_ends() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if "cursor" not in request.url.params:
            return httpx.Response(
                200,
                json={
                    "results": [{"id": "1", "title": "One"}],
                    "_links": {"next": "/wiki/api/v2/pages?id=1,2&cursor=abc"},
                },
            )
        return httpx.Response(200, json={"results": [{"id": 2, "title": "Two"}], "_links": {}})

    client = ConfluenceClient(
        ConfluenceSettings(api_url="https://api.example"),
        _StaticVault(),
        transport=httpx.MockTransport(answer),
    )
    async with client:
        pages = await client.pages("U1", ["1", "2"])
    assert [p.title for p in pages.values()] == ["One", "Two"]
    assert (
        seen[1] == "https://api.example/ex/confluence/cloud-1/wiki/api/v2/pages?id=1,2&cursor=abc"
    )


async def test_the_sandbox_pages_with_a_cursor_and_a_link_header(cf: Confluence) -> None:
    token = cf.vault.links["U0ALICE"].credential.access_token
    headers = {"Authorization": f"Bearer {token}"}
    first = await cf.af.sandbox.http.get(
        PAGES_PATH, params={"id": "65601,65602,65603", "limit": "2"}, headers=headers
    )
    assert first.status_code == 200
    body = first.json()
    assert [p["id"] for p in body["results"]] == ["65601", "65602"]
    assert 'rel="next"' in first.headers["link"]
    rest = await cf.af.sandbox.http.get(
        f"/ex/confluence/{SITE_ID}" + body["_links"]["next"], headers=headers
    )
    assert [p["id"] for p in rest.json()["results"]] == ["65603"]
    assert "next" not in rest.json()["_links"]
    too_many = await cf.af.sandbox.http.get(
        PAGES_PATH, params={"id": ",".join(str(n) for n in range(1, 252))}, headers=headers
    )
    assert too_many.status_code == 400


async def test_without_the_scope_the_sandbox_says_403_and_the_client_does_not_ask(
    cf: Confluence,
) -> None:
    await cf.vault.link("U0BOB", "bob@example.com", APPROVALFLOW_SCOPES)
    token = cf.vault.links["U0BOB"].credential.access_token
    refused = await cf.af.sandbox.http.get(
        PAGES_PATH, params={"id": "65601"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 403
    assert "read:page:confluence" in refused.json()["errors"][0]["title"]
    cf.af.state.clear_calls()
    with pytest.raises(MissingScope) as caught:
        await cf.client.pages("U0BOB", ["65601"])
    assert caught.value.scopes == ["read:page:confluence"]
    assert cf.af.state.calls_to("confluence_pages") == []


async def test_spaces_by_key_and_by_id(cf: Confluence) -> None:
    spaces = await cf.client.spaces_by_key("U0ALICE", ["ENG", "NOPE"])
    assert list(spaces) == ["ENG"]
    assert (spaces["ENG"].space_id, spaces["ENG"].name) == (ENG_SPACE, "Engineering Docs")
    by_id = await cf.client.spaces_by_id("U0ALICE", [ENG_SPACE])
    assert by_id[ENG_SPACE].key == "ENG"


async def test_429_waits_retry_after_and_5xx_is_retried(cf: Confluence) -> None:
    cf.af.state.inject_fault("confluence_pages", status=429, retry_after=3)
    cf.af.state.inject_fault("confluence_pages", status=503)
    pages = await cf.client.pages("U0ALICE", ["65601"])
    assert pages["65601"].title == "Authentication overview"
    # Retry-After as given, then Atlassian's backoff (10 s on the second try, jitter factor 1).
    assert cf.af.sleeps == [3, 10]
    assert [c.status for c in cf.af.state.calls_to("confluence_pages")] == [429, 503, 200]


async def test_retries_end_in_our_errors(cf: Confluence) -> None:
    cf.af.state.inject_fault("confluence_pages", status=503, count=None)
    with pytest.raises(UpstreamUnavailable):
        await cf.client.pages("U0ALICE", ["65601"])
    assert len(cf.af.state.calls_to("confluence_pages")) == 4  # Atlassian's 4 tries
    cf.af.state.clear_faults()
    cf.af.state.inject_fault("confluence_pages", status=429, retry_after=600, count=None)
    with pytest.raises(RateLimited):
        await cf.client.pages("U0ALICE", ["65601"])


async def test_an_expired_token_is_refreshed_once(cf: Confluence) -> None:
    cf.af.state.advance_clock(2 * 3600)  # the access token died
    pages = await cf.client.pages("U0ALICE", ["65601"])
    assert "65601" in pages and cf.vault.rejections == ["U0ALICE"]


class _StaticVault:
    async def access_token_for(self, user_id: str) -> Credential:
        return Credential("t", "cloud-1", "acc-1", frozenset(WITH_CONFLUENCE.split()))

    async def after_rejection(self, user_id: str, rejected: Credential) -> Credential:
        return rejected
