"""Requests and signatures against the sandbox: who may sign, with what, and what is recorded."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from emulators.approvalflow.seed import ALICE, BOB, DAVE
from services.errors import (
    AlreadySigned,
    InputError,
    MissingScope,
    NotAllowed,
    NotFound,
    NothingToSubmit,
    NotLinked,
    ReasonInvalid,
    RequestClosed,
    RequestError,
    SnapshotChanged,
    TokenExpired,
    TokenLocked,
    TokenNotEnrolled,
    WrongCode,
)
from services.requests.model import Decision, Policy, Stage, Status
from services.requests.policies import PolicyBook
from tests.approvalflow.conftest import ALICE_SLACK
from tests.refused import refused, said
from tests.requests.conftest import (
    BOB_SLACK,
    CAROL_SLACK,
    CHANNEL,
    DAVE_SLACK,
    NO_WRITE,
    World,
)

REASON = "Section 3 contradicts the SSO runbook."  # 38 characters


async def test_a_request_is_preflighted_and_posted(world: World) -> None:
    request = await world.request(reviewers=(BOB_SLACK, BOB_SLACK), groups=("S0QA",))
    assert request.id.startswith("AR-") and len(request.id) == 7
    assert request.status is Status.PENDING
    assert (request.requester, request.reviewers, request.reviewer_groups, request.channel) == (
        ALICE_SLACK,
        (BOB_SLACK,),
        ("S0QA",),
        CHANNEL,
    )
    assert request.title == "PR-184 Auth docs update"
    assert request.summary == "Auth docs for the new SSO flow"
    assert request.reference_url == "https://git.example.com/docs/pull/PR-184"
    assert [p.page_id for p in request.snapshot.submittable] == ["65601", "65602", "65603"]
    assert request.expires_at - request.created_at == timedelta(hours=72)
    assert request.message_ts is not None
    assert world.publisher.published == [request.with_changes(message_ts=None)]
    assert await world.service.get(request.id.lower()) == request
    # Preflight ran with the requester's own token; nothing was submitted.
    assert world.sandbox.calls_to("preflight_change_set", who="alice@example.com")
    assert world.sandbox.calls_to("submit_change_set") == []
    assert "request.created" in world.audit_actions()


async def test_approve_submits_as_the_approver(world: World) -> None:
    request = await world.request()
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    assert form.meaning == "I approve submitting these 3 pages for review"
    assert not form.changed_since_request
    code = world.code(BOB_SLACK)
    signed = (
        await world.service.sign(
            request.id,
            BOB_SLACK,
            Decision.APPROVE,
            code,
            "  Checked every page. ",
            form.snapshot.digest,
        )
    ).request

    submits = world.sandbox.calls_to("submit_change_set")
    assert len(submits) == 1
    assert submits[0].account_id == BOB, "submitted with the approver's own token"
    assert submits[0].account_id != ALICE
    assert submits[0].status == 200
    assert signed.status is Status.SUBMITTED
    assert [(o.page_id, o.submitted) for o in signed.outcomes] == [
        ("65601", True),
        ("65602", True),
        ("65603", True),
    ]
    (signature,) = signed.signatures
    assert (signature.signer.slack_id, signature.signer.atlassian_id, signature.signer.name) == (
        BOB_SLACK,
        BOB,
        "Bob Baker",
    )
    assert signature.decision is Decision.APPROVE
    assert signature.meaning == form.meaning
    assert signature.comment == "Checked every page."
    assert signature.signed_at.tzinfo is UTC or signature.signed_at.utcoffset() == timedelta(0)
    assert signature.snapshot_digest == form.snapshot.digest
    assert await world.service.get(request.id) == signed

    # The message is rewritten, the thread and the requester are told.
    assert world.publisher.last(request.id) == signed
    (note,) = world.publisher.notes_for(request.id)
    assert "Bob Baker approved this at" in note and "3 pages" in note
    assert world.publisher.dms[-1][:2] == (ALICE_SLACK, request.id)
    actions = world.audit_actions()
    assert actions.index("token.verify.ok") < actions.index("request.signature.recorded")
    assert actions.index("request.signature.recorded") < actions.index("request.submit.succeeded")
    entry = next(e for e in world.audit_log.stored if e.action == "request.signature.recorded")  # type: ignore[attr-defined]
    assert (entry.actor_atlassian_id, entry.printed_name, entry.meaning) == (
        BOB,
        "Bob Baker",
        form.meaning,
    )


async def test_a_single_page(world: World) -> None:
    request = await world.request("https://sandbox.atlassian.net/wiki/spaces/ENG/pages/65611/ADR")
    assert request.title == "Architecture decision records"  # from Confluence
    (page,) = request.snapshot.pages
    assert (page.title, page.version) == ("Architecture decision records", 8)
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    assert form.meaning == "I approve submitting this page for review"
    assert not form.changed_since_request
    signed = await world.approve(request, BOB_SLACK)
    (submit,) = world.sandbox.calls_to("submit_page")
    assert submit.account_id == BOB
    assert signed.status is Status.SUBMITTED
    assert [(o.page_id, o.submitted) for o in signed.outcomes] == [("65611", True)]


async def test_reject_with_a_reason(world: World) -> None:
    request = await world.request()
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.REJECT)
    assert form.meaning == "I reject submitting these 3 pages for review"
    digest = form.snapshot.digest
    for reason in ("", "x" * 19, "too short", "y" * 281):
        with refused(ReasonInvalid, match="20-280 characters"):
            await world.service.sign(
                request.id,
                BOB_SLACK,
                Decision.REJECT,
                world.current_code(BOB_SLACK),
                reason,
                digest,
            )
    # A refused reason never used the code up: the same code still signs.
    rejected = (
        await world.service.sign(
            request.id, BOB_SLACK, Decision.REJECT, world.code(BOB_SLACK), REASON, digest
        )
    ).request
    assert rejected.status is Status.REJECTED
    (signature,) = rejected.signatures
    assert (signature.decision, signature.comment) == (Decision.REJECT, REASON)
    assert signature.meaning == form.meaning
    assert world.sandbox.calls_to("submit_change_set") == [], "a rejection submits nothing"
    assert world.publisher.last(request.id).status is Status.REJECTED
    assert REASON in world.publisher.notes_for(request.id)[-1]
    assert world.publisher.dms[-1][0] == ALICE_SLACK and REASON in world.publisher.dms[-1][2]
    entry = world.audit_log.stored[-1]  # type: ignore[attr-defined]
    assert (entry.action, entry.reason) == ("request.signature.recorded", REASON)
    with refused(AlreadySigned, match="already rejected"):
        await world.approve(rejected, BOB_SLACK)
    await world.reviewer(CAROL_SLACK, "carol@example.com")
    closed = await world.request(reviewers=())
    await world.service.sign(
        closed.id, BOB_SLACK, Decision.REJECT, world.code(BOB_SLACK), "z" * 280, digest
    )
    with refused(RequestClosed, match="rejected by Bob Baker"):
        await world.approve(closed, CAROL_SLACK)
    # A rejection's reason may be exactly 20 and 280 characters.
    assert len("z" * 280) == 280


async def test_self_approval_is_refused_unless_allowed(world: World) -> None:
    request = await world.request(reviewers=())
    with refused(NotAllowed, match="someone else must sign"):
        await world.approve(request, ALICE_SLACK)
    with refused(InputError, match="cannot name yourself"):
        await world.request(reviewers=(ALICE_SLACK,))
    assert world.sandbox.calls_to("submit_change_set") == []

    lenient = world.make_service(allow_self_approval=True)
    signed = await world.approve(request, ALICE_SLACK, service=lenient)
    assert signed.status is Status.SUBMITTED
    assert world.sandbox.calls_to("submit_change_set")[0].account_id == ALICE


async def test_reviewers_named_or_in_a_group(world: World) -> None:
    await world.reviewer(CAROL_SLACK, "carol@example.com")
    await world.reviewer(DAVE_SLACK, "dave@example.com")
    world.groups.groups["S0QA"] = frozenset({DAVE_SLACK})
    request = await world.request(reviewers=(BOB_SLACK,), groups=("S0QA",))
    with refused(NotAllowed, match="Only the reviewers named"):
        await world.service.open_for_signing(request.id, CAROL_SLACK, Decision.APPROVE)
    with pytest.raises(NotAllowed):
        await world.approve(request.with_changes(reviewers=(CAROL_SLACK,)), CAROL_SLACK)
    assert "request.sign.refused" in world.audit_actions()
    assert [r.id for r in await world.service.pending_for(DAVE_SLACK)] == [request.id]
    assert [r.id for r in await world.service.pending_for(BOB_SLACK)] == [request.id]
    assert await world.service.pending_for(CAROL_SLACK) == []
    assert await world.service.pending_for(ALICE_SLACK) == []
    signed = await world.approve(request, DAVE_SLACK)
    assert signed.status is Status.SUBMITTED
    assert world.sandbox.calls_to("submit_change_set")[0].account_id == DAVE
    assert await world.service.pending_for(BOB_SLACK) == []


async def test_link_and_token_refusals_each_say_what_to_do(world: World) -> None:
    request = await world.request(reviewers=())
    # Not linked.
    with refused(NotLinked, match="/approvals connect"):
        await world.service.open_for_signing(request.id, "U0NOBODY", Decision.APPROVE)
    # Linked without the submit scope.
    await world.reviewer("U0FRANK", "frank@example.com", scope=NO_WRITE)
    with pytest.raises(MissingScope) as missing:
        await world.approve(request, "U0FRANK")
    assert missing.value.scopes == ["write:change-set:custom"]
    # Linked, not enrolled.
    await world.link(CAROL_SLACK, "carol@example.com")
    with pytest.raises(TokenNotEnrolled):
        await world.approve(request, CAROL_SLACK)
    # Enrolled, expired (the token's clock moves; the request's does not).
    await world.reviewer(DAVE_SLACK, "dave@example.com")
    world.token_clock.advance(days=31)
    with refused(TokenExpired, match="/approvals enroll"):
        await world.approve(request, DAVE_SLACK)
    # Locked after five wrong codes; a right code is then refused too.
    await world.enrol(BOB_SLACK)
    digest = request.snapshot.digest
    for _ in range(4):
        with pytest.raises(WrongCode):
            await world.service.sign(
                request.id, BOB_SLACK, Decision.APPROVE, world.wrong_code(BOB_SLACK), "", digest
            )
    with pytest.raises(TokenLocked):
        await world.service.sign(
            request.id, BOB_SLACK, Decision.APPROVE, world.wrong_code(BOB_SLACK), "", digest
        )
    with refused(TokenLocked, match="locked until"):
        await world.service.sign(
            request.id, BOB_SLACK, Decision.APPROVE, world.code(BOB_SLACK), "", digest
        )
    assert world.alerts.locked == [BOB_SLACK]
    assert world.sandbox.calls_to("submit_change_set") == []
    stored = await world.service.get(request.id)
    assert (stored.status, stored.signatures) == (Status.PENDING, ())


async def test_a_page_edited_before_signing_asks_to_reconfirm(world: World) -> None:
    request = await world.request()
    form = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    world.sandbox.edit_page("65602")
    code = world.code(BOB_SLACK)
    with refused(SnapshotChanged, match=f"not what {request.id} would sign") as changed:
        await world.service.sign(
            request.id, BOB_SLACK, Decision.APPROVE, code, "", form.snapshot.digest
        )
    fresh = changed.value.snapshot
    assert fresh is not None and fresh.digest != form.snapshot.digest
    assert {p.page_id: p.version for p in fresh.pages}["65602"] == 4
    assert world.sandbox.calls_to("submit_change_set") == []
    again = await world.service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    assert again.changed_since_request and again.snapshot.digest == fresh.digest
    # The code was not used up by the refusal: the re-confirmed form signs with it.
    signed = (
        await world.service.sign(request.id, BOB_SLACK, Decision.APPROVE, code, "", fresh.digest)
    ).request
    assert signed.status is Status.SUBMITTED
    assert signed.signatures[0].snapshot_digest == fresh.digest


async def test_bad_input_gets_clear_errors(world: World) -> None:
    service = world.service
    with refused(InputError, match="not a request id"):
        await service.get("hello")
    with refused(NotFound, match="There is no request AR-2222"):
        await service.get("AR-2222")
    with refused(NotFound, match="AR-2222"):
        await service.sign("ar2222", BOB_SLACK, Decision.APPROVE, "123456", "", "a" * 64)
    with refused(InputError, match="not a target"):
        await world.request("hello world")
    with refused(InputError, match=r"this bot works with sandbox\.atlassian\.net"):
        await world.request("https://evil.example.com/wiki/spaces/ENG/pages/65601/x")
    with refused(NotFound, match="could not find"):
        await world.request("cs-nope")
    with refused(NothingToSubmit, match="pending approval") as nothing:
        await world.request("cs-eng190")
    assert "no request was posted" in said(nothing.value)
    with refused(NothingToSubmit, match="archived"):
        await world.request("cs-eng150")
    assert world.publisher.published == [], "nothing posted for any of them"

    a = await world.request()
    b = await world.request("65611")
    form_a = await service.open_for_signing(a.id, BOB_SLACK, Decision.APPROVE)
    # A forged form: request B's id with what was confirmed for A.
    with refused(SnapshotChanged, match=b.id):
        await service.sign(
            b.id, BOB_SLACK, Decision.APPROVE, world.code(BOB_SLACK), "", form_a.snapshot.digest
        )
    with refused(InputError, match="approve or reject"):
        await service.sign(a.id, BOB_SLACK, "maybe", "123456", "", "a" * 64)  # type: ignore[arg-type]
    with refused(InputError, match="not one the bot opened"):
        await service.sign(a.id, BOB_SLACK, Decision.APPROVE, "123456", "", "not-a-digest")
    # A forged user: someone who is not a reviewer of A.
    await world.reviewer(CAROL_SLACK, "carol@example.com")
    with pytest.raises(NotAllowed):
        await service.sign(
            a.id,
            CAROL_SLACK,
            Decision.APPROVE,
            world.code(CAROL_SLACK),
            "",
            form_a.snapshot.digest,
        )
    assert world.sandbox.calls_to("submit_change_set") == []
    assert world.sandbox.calls_to("submit_page") == []
    # Closed and expired requests.
    await world.approve(a, BOB_SLACK)
    await world.reviewer(DAVE_SLACK, "dave@example.com")
    with refused(RequestClosed, match="already approved by Bob Baker"):
        await service.open_for_signing(a.id, DAVE_SLACK, Decision.APPROVE)
    with refused(AlreadySigned, match="already approved"):
        await service.open_for_signing(a.id, BOB_SLACK, Decision.REJECT)
    world.clock.advance(hours=73)
    with refused(RequestClosed, match="expired"):
        await world.approve(b, BOB_SLACK)
    (expired,) = await service.expire_due(world.clock.now())
    assert expired.id == b.id and expired.status is Status.EXPIRED
    with refused(RequestClosed, match="expired"):
        await service.sign(b.id, BOB_SLACK, Decision.APPROVE, "123456", "", "a" * 64)


async def test_a_form_of_a_stage_that_completed_meanwhile_signs_nothing(world: World) -> None:
    """Bob's form showed stage 1's meaning; stage 1 completed while it was open and Bob now
    signs stage 2: nothing is recorded and he is told to read the new meaning first."""
    policy = Policy(
        "two",
        (
            Stage("Review", "I reviewed these pages", required=2),
            Stage("Approval", "I approve submitting them", signers=(BOB_SLACK,)),
        ),
    )
    service = world.make_service(policies=PolicyBook({"two": policy}, "two", "test"))
    for user, email in ((CAROL_SLACK, "carol@example.com"), (DAVE_SLACK, "dave@example.com")):
        await world.reviewer(user, email)
    request = await world.request(reviewers=(), service=service)
    form = await service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    assert (form.stage, form.meaning) == (0, "I reviewed these pages")
    await world.approve(request, CAROL_SLACK, service=service)
    await world.approve(request, DAVE_SLACK, service=service)
    code = world.code(BOB_SLACK)
    with refused(RequestError, match="moved on while your form was open"):
        await service.sign(
            request.id,
            BOB_SLACK,
            Decision.APPROVE,
            code,
            "",
            form.snapshot.digest,
            confirmed_stage=form.stage,
        )
    stored = await service.get(request.id)
    assert [s.signer.slack_id for s in stored.signatures] == [CAROL_SLACK, DAVE_SLACK]
    again = await service.open_for_signing(request.id, BOB_SLACK, Decision.APPROVE)
    assert (again.stage, again.meaning) == (1, "I approve submitting them")
    done = (
        await service.sign(
            request.id,
            BOB_SLACK,
            Decision.APPROVE,
            world.code(BOB_SLACK),
            "",
            again.snapshot.digest,
            confirmed_stage=again.stage,
        )
    ).request
    assert done.status is Status.SUBMITTED
    assert [s.stage for s in done.signatures] == [0, 0, 1]
