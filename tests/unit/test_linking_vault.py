"""The token vault against the sandbox (in process): refresh once, re-read, retry once, break."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from services.errors import LinkBroken, NotLinked, UpstreamTimeout, UpstreamUnavailable
from services.linking.atlassian import token_set
from services.linking.models import TokenSet
from services.ports import Credential
from tests.fakes.clock import FakeClock
from tests.unit.linking_kit import Handler, Kit, make_kit


@pytest.fixture
def kit(clock: FakeClock) -> Kit:
    return make_kit(clock)


def is_token_call(request: httpx.Request) -> bool:
    return request.url.path == "/oauth/token"


async def test_a_fresh_token_is_returned_as_is(kit: Kit) -> None:
    grant = await kit.link()
    kit.clock.advance(minutes=58, seconds=59)  # 61 s left: outside the margin
    credential = await kit.vault.access_token_for("U1")
    assert credential == Credential(
        grant.access_token, grant.cloud_id, grant.account_id, grant.scopes
    )
    assert kit.state.refresh_count() == 0


async def test_within_60_seconds_of_expiry_it_refreshes_and_stores_the_pair(kit: Kit) -> None:
    old = await kit.link()
    kit.clock.advance(minutes=59, seconds=1)  # 59 s left
    credential = await kit.vault.access_token_for("U1")
    assert credential.access_token != old.access_token
    assert kit.state.refresh_count() == 1
    stored = await kit.grants.get("U1")
    assert stored is not None and stored.access_token == credential.access_token
    assert stored.refresh_token != old.refresh_token, "the rotated refresh token is kept"
    assert stored.last_refreshed_at == kit.clock.now()
    assert stored.expires_at == kit.clock.now() + timedelta(hours=1)
    assert kit.state.token_family(credential.access_token) is not None
    # The refresh sent client_secret_post, and no scope (Atlassian documents none).
    [call] = [r for r in kit.transport.requests if is_token_call(r)][-1:]
    body = call.content.decode()
    assert "client_secret=kit-client-secret" in body and "grant_type=refresh_token" in body
    assert "scope" not in body and "authorization" not in call.headers


async def test_fifty_callers_two_vaults_one_refresh(kit: Kit) -> None:
    await kit.link()
    await kit.expire()
    other = kit.another_vault()
    results = await asyncio.gather(
        *(v.access_token_for("U1") for _ in range(25) for v in (kit.vault, other))
    )
    assert len({c.access_token for c in results}) == 1
    assert kit.state.refresh_count() == 1
    assert all(f.revoked_at is None for f in kit.state.families())


async def test_invalid_grant_rereads_and_uses_what_another_process_stored(kit: Kit) -> None:
    await kit.link()
    await kit.expire()

    async def rotated_elsewhere_first(request: httpx.Request, sandbox: Handler) -> httpx.Response:
        if not is_token_call(request) or kit.transport.intercept is None:
            return await sandbox(request)
        kit.transport.intercept = None
        # Another process refreshed (under its own lease, which our test skips), so the
        # token we sent is stale: Atlassian answers invalid_grant.
        grant = await kit.grants.get("U1")
        assert grant is not None
        _, answer = kit.state.refresh(
            client_id="kit-client",
            client_secret="kit-client-secret",
            refresh_token=grant.refresh_token,
        )
        await kit.grants.replace(grant.refreshed(token_set(answer), kit.clock.now()))
        return httpx.Response(403, json={"error": "invalid_grant", "error_description": "x"})

    kit.transport.intercept = rotated_elsewhere_first
    credential = await kit.vault.access_token_for("U1")
    stored = await kit.grants.get("U1")
    assert stored is not None and credential.access_token == stored.access_token
    assert kit.state.refresh_count() == 1 and not stored.broken
    assert kit.notices.sent[-1][0] == "linked"


async def test_refused_once_then_accepted(kit: Kit) -> None:
    await kit.link()
    await kit.expire()
    kit.state.inject_fault("token", status=403)
    credential = await kit.vault.access_token_for("U1")
    assert kit.state.token_family(credential.access_token) is not None
    assert kit.state.refresh_count() == 1


async def test_refused_twice_breaks_the_link_tells_the_user_and_audits(kit: Kit) -> None:
    grant = await kit.link()
    await kit.expire()
    kit.state.revoke_grants("alice@example.com")
    with pytest.raises(LinkBroken):
        await kit.vault.access_token_for("U1")
    token_calls = [r for r in kit.transport.requests if is_token_call(r)]
    assert len(token_calls) == 1 + 2, "the code exchange, then one refresh and one retry"
    stored = await kit.grants.get("U1")
    assert stored is not None and stored.broken and stored.broken_at == kit.clock.now()
    assert stored.access_token == "" and stored.refresh_token == ""
    kind, user, link = kit.notices.sent[-1]
    assert (kind, user, link.broken) == ("broken", "U1", True)
    [entry] = kit.audit_log.find("link.broken")
    assert entry.target == f"atlassian:{grant.account_id}" and "invalid_grant" in entry.reason
    # From now on: no more calls to Atlassian, no more DMs.
    with pytest.raises(LinkBroken):
        await kit.vault.access_token_for("U1")
    assert len([r for r in kit.transport.requests if is_token_call(r)]) == 3
    assert [k for k, _, _ in kit.notices.sent] == ["linked", "broken"]
    assert await kit.store.idle(kit.clock.now() + timedelta(days=999), 10) == []


async def test_concurrent_callers_break_the_link_once(kit: Kit) -> None:
    await kit.link()
    await kit.expire()
    kit.state.revoke_grants("alice@example.com")
    results = await asyncio.gather(
        *(kit.vault.access_token_for("U1") for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(r, LinkBroken) for r in results)
    assert [k for k, _, _ in kit.notices.sent] == ["linked", "broken"]
    assert len(kit.audit_log.find("link.broken")) == 1


async def test_a_lost_answer_is_retried_once_with_the_same_token(kit: Kit) -> None:
    old = await kit.link()
    await kit.expire()

    async def lose_the_first_answer(request: httpx.Request, sandbox: Handler) -> httpx.Response:
        if is_token_call(request) and kit.transport.intercept is not None:
            kit.transport.intercept = None
            await sandbox(request)  # Atlassian rotated the pair ...
            raise httpx.ReadTimeout("no answer", request=request)  # ... and we never heard
        return await sandbox(request)

    kit.transport.intercept = lose_the_first_answer
    credential = await kit.vault.access_token_for("U1")
    sent = [r.content for r in kit.transport.requests if is_token_call(r)][-2:]
    assert sent[0] == sent[1], "the retry sends the same refresh token (inside the reuse window)"
    assert old.refresh_token.encode() in sent[0] and kit.state.refresh_count() == 2
    assert kit.state.token_family(credential.access_token) is not None
    assert all(f.revoked_at is None for f in kit.state.families())


async def test_timeouts_twice_raise_and_keep_the_link(kit: Kit) -> None:
    await kit.link()
    await kit.expire()

    async def hang(request: httpx.Request, sandbox: Handler) -> httpx.Response:
        if is_token_call(request):
            raise httpx.ConnectTimeout("no answer", request=request)
        return await sandbox(request)

    kit.transport.intercept = hang
    with pytest.raises(UpstreamTimeout):
        await kit.vault.access_token_for("U1")
    stored = await kit.grants.get("U1")
    assert stored is not None and not stored.broken


async def test_token_endpoint_down_keeps_the_link(kit: Kit) -> None:
    await kit.link()
    await kit.expire()
    kit.state.set_token_endpoint_down(True)
    with pytest.raises(UpstreamUnavailable):
        await kit.vault.access_token_for("U1")
    kit.state.set_token_endpoint_down(False)
    assert (await kit.vault.access_token_for("U1")).access_token
    assert kit.state.refresh_count() == 1


async def test_after_rejection_refreshes_once_for_everyone(kit: Kit) -> None:
    await kit.link()
    rejected = await kit.vault.access_token_for("U1")
    results = await asyncio.gather(*(kit.vault.after_rejection("U1", rejected) for _ in range(5)))
    assert {c.access_token for c in results} != {rejected.access_token}
    assert len({c.access_token for c in results}) == 1
    assert kit.state.refresh_count() == 1
    # A late caller holding the old token gets the new one without another refresh.
    assert (await kit.vault.after_rejection("U1", rejected)) == results[0]
    assert kit.state.refresh_count() == 1


async def test_after_rejection_that_cannot_refresh_breaks_the_link(kit: Kit) -> None:
    await kit.link()
    rejected = await kit.vault.access_token_for("U1")
    kit.state.revoke_grants("alice@example.com")
    with pytest.raises(LinkBroken):
        await kit.vault.after_rejection("U1", rejected)


async def test_waits_for_a_refresh_held_elsewhere_and_uses_its_result(clock: FakeClock) -> None:
    kit = make_kit(clock, poll_seconds=0.01)
    await kit.link()
    await kit.expire()
    assert await kit.leases.acquire("link-refresh:U1", "another-process", 60)
    waiting = asyncio.create_task(kit.vault.access_token_for("U1"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    # The other process finishes: it stores the new pair, then releases.
    grant = await kit.grants.get("U1")
    assert grant is not None
    _, answer = kit.state.refresh(
        client_id="kit-client", client_secret="kit-client-secret", refresh_token=grant.refresh_token
    )
    stored = await kit.grants.replace(grant.refreshed(token_set(answer), clock.now()))
    assert stored is not None
    credential = await asyncio.wait_for(waiting, 2)
    assert credential.access_token == stored.access_token
    assert kit.state.refresh_count() == 1


async def test_waiting_is_bounded(clock: FakeClock) -> None:
    kit = make_kit(clock, poll_seconds=0.01, wait_seconds=0.1)
    await kit.link()
    await kit.expire()
    assert await kit.leases.acquire("link-refresh:U1", "a-stuck-process", 60)
    with pytest.raises(UpstreamTimeout):
        await kit.vault.access_token_for("U1")
    assert kit.state.refresh_count() == 0


async def test_a_write_that_lost_the_race_defers_to_the_stored_grant(kit: Kit) -> None:
    await kit.link()
    await kit.expire()

    async def relinked_meanwhile(request: httpx.Request, sandbox: Handler) -> httpx.Response:
        if is_token_call(request) and kit.transport.intercept is not None:
            kit.transport.intercept = None
            answer = await sandbox(request)
            grant = await kit.grants.get("U1")
            assert grant is not None
            # Another writer (a lease that ran out, say) stores a newer, fresher grant.
            theirs = TokenSet("theirs-access", "theirs-refresh", 3600, grant.scopes)
            await kit.grants.replace(grant.refreshed(theirs, kit.clock.now()))
            return answer
        return await sandbox(request)

    kit.transport.intercept = relinked_meanwhile
    credential = await kit.vault.access_token_for("U1")
    assert credential.access_token == "theirs-access"


async def test_not_linked(kit: Kit) -> None:
    with pytest.raises(NotLinked):
        await kit.vault.access_token_for("U404")
    with pytest.raises(NotLinked):
        await kit.vault.after_rejection("U404", Credential("t", "c", "a", frozenset()))


async def test_idle_grants_are_refreshed_after_30_days(kit: Kit) -> None:
    await kit.link("U1", "alice@example.com")
    kit.clock.advance(days=20)
    await kit.link("U2", "bob@example.com")
    kit.clock.advance(days=10, seconds=1)
    assert await kit.vault.refresh_idle() == 1
    assert kit.state.refresh_count("alice@example.com") == 1
    assert kit.state.refresh_count("bob@example.com") == 0
    assert await kit.vault.refresh_idle() == 0, "nothing idle any more"
    kit.clock.advance(days=25)
    kit.state.revoke_grants("bob@example.com")
    assert await kit.vault.refresh_idle() == 0, "a revoked grant breaks, and the run goes on"
    bob = await kit.grants.get("U2")
    assert bob is not None and bob.broken
