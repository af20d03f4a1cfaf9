"""Account linking against the sandbox (in process): states, checks, what is stored and told."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from services.errors import (
    AccountTaken,
    AuthorizeFailed,
    ConsentDenied,
    EmailMismatch,
    LinkRefused,
    LinkStateInvalid,
    MissingScope,
    SiteNotGranted,
)
from services.linking.models import REQUESTED_SCOPES, AuthorizationReply
from tests.fakes.clock import FakeClock
from tests.unit.linking_kit import CLIENT, Kit, make_kit


@pytest.fixture
def kit(clock: FakeClock) -> Kit:
    return make_kit(clock)


async def test_start_issues_a_single_use_state_bound_to_team_and_user(kit: Kit) -> None:
    start = await kit.linking.start("T1", "U1")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.authorize_url).query).items()}
    assert start.authorize_url.startswith("http://sandbox.test/authorize?")
    assert query == {
        "audience": "api.atlassian.com",
        "client_id": CLIENT.client_id,
        "scope": " ".join(REQUESTED_SCOPES),
        "redirect_uri": CLIENT.redirect_uri,
        "state": query["state"],
        "response_type": "code",
        "prompt": "consent",
    }
    assert "%20" in start.authorize_url, "scopes are space-separated, percent-encoded"
    assert start.expires_at == kit.clock.now() + timedelta(minutes=10)
    pending = await kit.states.take(query["state"])
    assert pending is not None and (pending.team_id, pending.user_id) == ("T1", "U1")
    other = await kit.linking.start("T1", "U1")
    assert other.authorize_url != start.authorize_url


async def test_link_stores_a_sealed_grant_audits_and_tells_the_user(kit: Kit) -> None:
    grant = await kit.link("U1", "alice@example.com")
    assert grant.user_id == "U1" and grant.team_id == "T1"
    assert grant.site_url == "https://sandbox.atlassian.net" and grant.missing_scopes == []
    assert grant.linked_at == grant.last_refreshed_at == kit.clock.now()
    sealed = kit.store.grants["U1"].sealed
    assert grant.access_token.encode() not in sealed and grant.refresh_token.encode() not in sealed
    [(kind, user, link)] = kit.notices.sent
    assert (kind, user, link.account_id) == ("linked", "U1", grant.account_id)
    [entry] = kit.audit_log.find("link.connected")
    assert entry.actor_slack_id == "U1" and entry.actor_atlassian_id == grant.account_id
    assert entry.details["site"] == "https://sandbox.atlassian.net"
    assert grant.access_token not in str(entry) and grant.refresh_token not in str(entry)


async def test_a_state_works_once_and_only_for_the_user_it_was_issued_to(kit: Kit) -> None:
    kit.directory.add("U1", "alice@example.com")
    state, code = (await kit.consent("U1", "alice@example.com")).split()
    await kit.linking.complete(AuthorizationReply(state=state, code=code))
    with pytest.raises(LinkStateInvalid):
        await kit.linking.complete(AuthorizationReply(state=state, code=code))
    with pytest.raises(LinkStateInvalid):
        await kit.linking.complete(AuthorizationReply(state="never-issued-" * 3, code=code))
    assert list(kit.store.grants) == ["U1"]


async def test_an_expired_state_links_nothing(kit: Kit) -> None:
    state, code = (await kit.consent("U1", "alice@example.com")).split()
    kit.clock.advance(minutes=10, seconds=1)
    with pytest.raises(LinkStateInvalid):
        await kit.linking.complete(AuthorizationReply(state=state, code=code))
    assert kit.store.grants == {}


async def test_denied_and_other_errors_use_the_state_up(kit: Kit) -> None:
    state, _ = (await kit.consent("U1", "alice@example.com")).split()
    with pytest.raises(ConsentDenied):
        await kit.linking.complete(AuthorizationReply(state=state, error="access_denied"))
    with pytest.raises(LinkStateInvalid):
        await kit.linking.complete(AuthorizationReply(state=state, code="late"))
    state, _ = (await kit.consent("U1", "alice@example.com")).split()
    with pytest.raises(AuthorizeFailed):
        await kit.linking.complete(AuthorizationReply(state=state, error="invalid_scope"))
    assert kit.store.grants == {}
    assert kit.audit_log.actions() == ["link.failed", "link.failed"]


async def test_a_used_code_is_refused(kit: Kit) -> None:
    kit.directory.add("U1", "alice@example.com")
    state, code = (await kit.consent("U1", "alice@example.com")).split()
    kit.state.exchange_code(
        client_id=CLIENT.client_id,
        client_secret=CLIENT.client_secret,
        code=code,
        redirect_uri=CLIENT.redirect_uri,
    )
    with pytest.raises(LinkRefused) as refused:
        await kit.linking.complete(AuthorizationReply(state=state, code=code))
    assert refused.value.error == "invalid_request" and kit.store.grants == {}


async def test_the_site_must_be_granted(kit: Kit) -> None:
    kit.directory.add("U1", "alice@example.com")
    kit.state.set_user_sites("alice@example.com", ["https://other-sandbox.atlassian.net"])
    state, code = (await kit.consent("U1", "alice@example.com")).split()
    with pytest.raises(SiteNotGranted) as refused:
        await kit.linking.complete(AuthorizationReply(state=state, code=code))
    assert refused.value.site == "https://sandbox.atlassian.net" and kit.store.grants == {}


@pytest.mark.parametrize(
    ("slack_email", "atlassian_visible", "linked"),
    [
        ("ALICE@example.com ", True, True),
        ("alice@elsewhere.example", True, False),
        (None, True, False),  # no users:read.email, or a bot
        ("hal@example.com", False, False),  # the Atlassian profile hides the email
    ],
)
async def test_email_policy(
    clock: FakeClock, slack_email: str | None, atlassian_visible: bool, linked: bool
) -> None:
    kit = make_kit(clock)
    who = "alice@example.com"
    if not atlassian_visible:
        kit.state.add_user("Hidden Hal", "hal@example.com", email_visible=False)
        who = "hal@example.com"
    kit.directory.add("U1", slack_email)
    state, code = (await kit.consent("U1", who)).split()
    if linked:
        await kit.linking.complete(AuthorizationReply(state=state, code=code))
        assert "U1" in kit.store.grants
    else:
        with pytest.raises(EmailMismatch):
            await kit.linking.complete(AuthorizationReply(state=state, code=code))
        assert kit.store.grants == {}


async def test_without_the_email_policy_a_hidden_email_links(clock: FakeClock) -> None:
    kit = make_kit(clock, require_email_match=False)
    kit.state.add_user("Hidden Hal", "hal@example.com", email_visible=False)
    kit.directory.add("U1", None)
    grant = await kit.link("U1", "hal@example.com")
    assert grant.email is None and grant.name == "Hidden Hal"


async def test_read_me_and_offline_access_are_required(kit: Kit) -> None:
    kit.directory.add("U1", "alice@example.com")
    state, code = (await kit.consent("U1", "alice@example.com", ("read:me",))).split()
    with pytest.raises(MissingScope) as refused:
        await kit.linking.complete(AuthorizationReply(state=state, code=code))
    assert refused.value.scopes == ["offline_access"] and kit.store.grants == {}


async def test_missing_optional_scopes_link_and_show(kit: Kit) -> None:
    kit.directory.add("U1", "alice@example.com")
    scopes = ("read:me", "offline_access", "read:change-set:custom")
    state, code = (await kit.consent("U1", "alice@example.com", scopes)).split()
    link = await kit.linking.complete(AuthorizationReply(state=state, code=code))
    assert link.scopes == frozenset(scopes)
    assert link.missing_scopes == [
        "read:forge-app:confluence",
        "write:change-set:custom",
        "read:approval:custom",
        "write:approval:custom",
        "read:page:confluence",
        "read:space:confluence",
    ]


async def test_one_atlassian_account_one_slack_user(kit: Kit) -> None:
    await kit.link("U1", "alice@example.com")
    kit.directory.add("U2", "alice@example.com")
    state, code = (await kit.consent("U2", "alice@example.com")).split()
    with pytest.raises(AccountTaken):
        await kit.linking.complete(AuthorizationReply(state=state, code=code))
    assert list(kit.store.grants) == ["U1"]


async def test_linking_again_replaces_the_grant(kit: Kit) -> None:
    first = await kit.link("U1", "alice@example.com")
    kit.clock.advance(minutes=5)
    second = await kit.link("U1", "alice@example.com")
    assert second.access_token != first.access_token and second.version == first.version + 1
    start = await kit.linking.start("T1", "U1")
    assert start.current is not None and start.current.account_id == first.account_id


async def test_a_failed_dm_does_not_undo_the_link(kit: Kit) -> None:
    kit.notices.fail = True
    await kit.link("U1", "alice@example.com")
    assert "U1" in kit.store.grants


async def test_disconnect_deletes_and_audits(kit: Kit) -> None:
    grant = await kit.link("U1", "alice@example.com")
    removed = await kit.linking.disconnect("U1")
    assert removed is not None and removed.account_id == grant.account_id
    assert kit.store.grants == {} and kit.store.accounts == {}
    assert kit.audit_log.actions()[-1] == "link.disconnected"
    assert await kit.linking.disconnect("U1") is None
    assert await kit.linking.status("U1") is None
