"""The request message, the signing modal and command parsing: pure functions, no Slack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.slack.sandbox_note import noted_blocks, noted_view
from emulators.slack.blockkit_limits import message_problems, view_problems
from handlers.blocks.requests import (
    APPROVE_ACTION,
    EVIDENCE_ACTION,
    REJECT_ACTION,
    pending_message,
    request_message,
)
from handlers.blocks.signing import (
    CODE_BLOCK,
    REASON_BLOCK,
    FormMetadata,
    problem_view,
    signed_view,
    signing_view,
)
from handlers.requests import RequestCommand, WatchCommand
from handlers.slash import split_text
from services.approvalflow.targets import (
    ChangeSetTarget,
    PageSnapshot,
    PageTarget,
    TargetSnapshot,
    snapshot_digest,
)
from services.errors import InputError
from services.requests.model import (
    ApprovalRequest,
    Decision,
    PageOutcome,
    Policy,
    Signature,
    Signer,
    Stage,
    Status,
    SubmitAttempt,
)
from services.requests.outcomes import Submitted
from services.requests.ports import SigningForm
from tests.refused import refused

SITE = "https://sandbox.atlassian.net"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def snapshot(pages: int = 3, blocked: int = 0, title: str = "PR-184 Auth docs") -> TargetSnapshot:
    target = ChangeSetTarget("cs-eng184")
    items = tuple(
        PageSnapshot(
            page_id=str(65600 + i),
            version=i + 1,
            can_submit=i >= blocked,
            reason="No workflow assigned to page" if i < blocked else None,
        )
        for i in range(pages)
    )
    digest = snapshot_digest(target, title, [(p.page_id, p.version) for p in items])
    return TargetSnapshot(target=target, title=title, pages=items, digest=digest)


def request(**changes: Any) -> ApprovalRequest:
    snap = changes.pop("snapshot", None) or snapshot()
    base = ApprovalRequest(
        id="AR-7K3Q",
        target=snap.target,
        title=snap.title or "",
        requester="U0ALICE",
        reviewers=("U0BOB",),
        reviewer_groups=("S0DOCS",),
        channel="C0DOCS",
        created_at=NOW,
        expires_at=NOW + timedelta(hours=72),
        snapshot=snap,
        summary="Auth docs for the new SSO flow",
        reference_url="https://git.example.com/docs/pull/184",
        message_ts="1.000001",
    )
    return base.with_changes(**changes)


def signature(decision: Decision = Decision.APPROVE, comment: str = "") -> Signature:
    return Signature(
        signer=Signer("U0BOB", "712020:bob", "Bob Baker"),
        decision=decision,
        meaning="I approve submitting these 3 pages for review",
        comment=comment,
        signed_at=NOW + timedelta(minutes=5, seconds=7),
        snapshot_digest="a" * 64,
    )


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def sandboxed(text: str, blocks: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A message as Slack gets it in sandbox mode: the adapter adds the note."""
    return text, noted_blocks(text, blocks)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [str(e["action_id"]) for e in buttons(blocks)]


def test_pending_request_message() -> None:
    text, blocks = sandboxed(*request_message(request(), site_url=SITE))
    assert message_problems(text, blocks) == []
    shown = all_text(blocks)
    for part in (
        "AR-7K3Q",
        "PR-184 Auth docs",
        "cs-eng184",
        "Auth docs for the new SSO flow",
        "https://git.example.com/docs/pull/184",
        "v3",
        f"{SITE}/wiki/pages/viewpage.action?pageId=65601",
        "3 submittable, 0 blocked",
        "<@U0ALICE>",
        "<@U0BOB>",
        "<!subteam^S0DOCS>",
        "sandbox",
    ):
        assert part in shown, part
    [approve, reject] = buttons(blocks)
    assert (approve["action_id"], approve["value"]) == (APPROVE_ACTION, "AR-7K3Q")
    assert (reject["action_id"], reject["value"]) == (REJECT_ACTION, "AR-7K3Q")


def test_many_pages_show_ten_then_more() -> None:
    text, blocks = request_message(request(snapshot=snapshot(pages=37, blocked=2)), site_url=SITE)
    assert message_problems(text, blocks) == []
    shown = all_text(blocks)
    assert "…and 27 more" in shown and "35 submittable, 2 blocked" in shown
    assert "blocked: No workflow assigned to page" in shown
    assert ":test_tube:" not in shown


def test_submitted_message_has_signatures_and_outcomes_and_no_buttons() -> None:
    outcomes = (
        PageOutcome("65601", None, True),
        PageOutcome("65602", "OAuth client setup", False, "Page is already pending approval"),
    )
    done = request(
        status=Status.SUBMITTED,
        signatures=(signature(comment="Looks <good> & done"),),
        outcomes=outcomes,
        rollup_state="in_review",
    )
    text, blocks = request_message(done, site_url=SITE)
    assert message_problems(text, blocks) == []
    shown = all_text(blocks)
    assert action_ids(blocks) == [EVIDENCE_ACTION]
    assert "Bob Baker" in shown and "2026-11-23 09:05:07 UTC" in shown
    assert "I approve submitting these 3 pages for review" in shown and "Approved" in shown
    assert "Submitted* (1)" in shown and "Skipped* (1)" in shown
    assert "Page is already pending approval" in shown and "in review" in shown
    assert "&lt;good&gt; &amp; done" in shown, "outside text is escaped"


def test_rejected_expired_failed_and_tracked_states() -> None:
    rejected = request(
        status=Status.REJECTED,
        signatures=(signature(Decision.REJECT, "Missing the audit results for 2026 please"),),
    )
    text, blocks = request_message(rejected, site_url=SITE)
    assert action_ids(blocks) == [EVIDENCE_ACTION] and "Rejected" in all_text(blocks)
    assert "Reason: Missing the audit results" in all_text(blocks)

    expired = request(status=Status.EXPIRED)
    text, blocks = request_message(expired, site_url=SITE)
    assert action_ids(blocks) == [EVIDENCE_ACTION] and "Expired" in all_text(blocks)

    failed = request(last_error="ApprovalFlow answered 500")
    text, blocks = request_message(failed, site_url=SITE)
    assert len(buttons(blocks)) == 2, "a failed submit keeps the buttons"
    assert "The last submit failed" in all_text(blocks) and "500" in all_text(blocks)

    for state, words in (
        ("all_approved", "all pages approved"),
        ("has_rejections", "has rejections"),
        ("stale", "/approvals request cs-eng184"),
    ):
        closed = request(status=Status.CLOSED, rollup_state=state)
        text, blocks = request_message(closed, site_url=SITE)
        assert message_problems(text, blocks) == []
        assert words in all_text(blocks) and action_ids(blocks) == [EVIDENCE_ACTION]


def test_titles_cannot_mention_or_link() -> None:
    sneaky = request(title="<!channel> <https://evil.example|click>", summary="<@U0BOSS>")
    _, blocks = request_message(sneaky, site_url=SITE)
    shown = all_text(blocks)
    assert "<!channel>" not in shown and "<@U0BOSS>" not in shown and "<https://evil" not in shown


def test_many_signatures_are_never_cut() -> None:
    many = tuple(signature(comment="x" * 280) for _ in range(30))
    text, blocks = sandboxed(
        *request_message(request(status=Status.SUBMITTED, signatures=many), site_url=SITE)
    )
    assert message_problems(text, blocks) == []
    assert all_text(blocks).count("Bob Baker") == 30


def test_pending_list_has_buttons_for_each() -> None:
    requests = [request(id=f"AR-{c}K3Q") for c in "ACDEFGHJKMNPQRTUVWXYZ"]
    text, blocks = sandboxed(*pending_message(requests))
    assert message_problems(text, blocks) == []
    assert len(buttons(blocks)) == 30 and "…and 6 more" in all_text(blocks)
    empty_text, empty = pending_message([])
    assert message_problems(empty_text, empty) == [] and buttons(empty) == []


def form(decision: Decision, changed: bool = False) -> SigningForm:
    return SigningForm(
        request=request(),
        decision=decision,
        snapshot=snapshot(pages=40),
        meaning="I approve submitting these 40 pages for review",
        changed_since_request=changed,
    )


@pytest.mark.parametrize("decision", list(Decision))
def test_signing_view(decision: Decision) -> None:
    view = noted_view(signing_view(form(decision, changed=True), site_url=SITE))
    assert view_problems(view) == []
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert "code" in inputs[CODE_BLOCK]["label"]["text"]
    assert FormMetadata.decode(view["private_metadata"]) == FormMetadata(
        "AR-7K3Q", decision, snapshot(pages=40).digest, 0
    )
    shown = all_text(view["blocks"])
    assert "changed since the request" in shown and "I approve submitting these 40" in shown
    if decision is Decision.REJECT:
        element = inputs[REASON_BLOCK]["element"]
        assert "reason" in inputs[REASON_BLOCK]["label"]["text"].lower()
        assert (element["min_length"], element["max_length"]) == (20, 280)
        assert inputs[REASON_BLOCK].get("optional") is not True
    else:
        assert REASON_BLOCK not in inputs and inputs["comment"]["optional"] is True


@pytest.mark.parametrize(
    "metadata",
    [
        "",
        "AR-7K3Q",
        "{}",
        '{"request":"AR-7K3Q","decision":"approve"}',
        '{"request":"ar-7k3q","decision":"approve","digest":"' + "a" * 64 + '","stage":0}',
        '{"request":"AR-7K3Q","decision":"sign","digest":"' + "a" * 64 + '","stage":0}',
        '{"request":"AR-7K3Q","decision":"approve","digest":"xyz","stage":0}',
        '{"request":"AR-7K3Q","decision":"approve","digest":"' + "a" * 64 + '","stage":"0"}',
        '{"request":"AR-7K3Q","decision":"approve","digest":"' + "a" * 64 + '","stage":-1}',
        '{"request":"AR-7K3Q","decision":"approve","digest":"' + "a" * 64 + '"}',
        '{"request":"AR-7K3Q","decision":"approve","digest":"' + "a" * 64 + '","stage":0,'
        '"user":"U0X"}',
        '["AR-7K3Q","approve"]',
        "x" * 5000,
    ],
)
def test_forged_metadata_is_refused(metadata: str) -> None:
    assert FormMetadata.decode(metadata) is None


def test_metadata_round_trips_with_its_stage() -> None:
    meta = FormMetadata("AR-7K3Q", Decision.APPROVE, "a" * 64, 2)
    assert FormMetadata.decode(meta.encode()) == meta


def test_problem_and_signed_views_are_valid() -> None:
    view = noted_view(
        problem_view(
            "AR-7K3Q", Decision.APPROVE, "Not linked", connect_url="https://x", enroll=True
        )
    )
    assert view_problems(view) == []
    assert view_problems(problem_view(None, Decision.REJECT, "<b>")) == []
    done = request(
        status=Status.SUBMITTED,
        outcomes=(PageOutcome("65601", None, True), PageOutcome("65602", None, False, "no")),
    )
    attempt = SubmitAttempt("a1", Signer("U0BOB", "acc-bob", "Bob Baker"), NOW, ("65601",))
    signed = noted_view(signed_view(Submitted(done, attempt, done.outcomes), site_url=SITE))
    assert view_problems(signed) == [] and "1 submitted, 1 skipped" in all_text(signed["blocks"])


# --- command parsing ----------------------------------------------------------------------


def parse(text: str) -> RequestCommand:
    return RequestCommand.parse(split_text(text))


def test_request_command_reads_slack_escapes() -> None:
    command = parse(
        "<https://sandbox.atlassian.net/wiki/spaces/ENG/pages/65611/ADRs|Architecture decision "
        "records> <@U0BOB|bob> <@W0CAROL> <!subteam^S0DOCS|@docs> <#C0DOCS|docs> <@U0BOB>"
    )
    assert command.target.startswith("<https://sandbox.atlassian.net/wiki/spaces/ENG/pages/65611")
    assert command.reviewers == ("U0BOB", "W0CAROL")
    assert command.groups == ("S0DOCS",)
    assert command.channel == "C0DOCS"
    assert parse("cs-eng184").channel is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "needs more"),
        ("<@U0BOB>", "needs more"),
        ("cs-1 cs-2", "One target per request"),
        ("cs-1 @bob", "can't tell who"),
        ("cs-1 <!channel>", "can't tell who"),
        ("cs-1 #general", "which channel"),
        ("cs-1 <#C0A> <#C0B>", "one channel"),
        ("cs-1 " + " ".join(f"<@U{i:04d}>" for i in range(26)), "at most 25"),
    ],
)
def test_request_command_refuses_clearly(text: str, words: str) -> None:
    with refused(InputError, match=words):
        parse(text)


def test_watch_command() -> None:
    assert WatchCommand.parse(["98301", "<#C0DOCS|docs>"], "watch", channel_allowed=True) == (
        WatchCommand("98301", "C0DOCS")
    )
    assert WatchCommand.parse(["ENG"], "watch", channel_allowed=True) == WatchCommand("ENG", None)
    with refused(InputError, match="not a space key or id"):
        WatchCommand.parse(["EN?G"], "watch", channel_allowed=True)
    with pytest.raises(InputError):
        WatchCommand.parse(["98301", "<#C0DOCS>"], "unwatch", channel_allowed=False)


def test_page_target_form_has_one_page() -> None:
    target = PageTarget("65611")
    snap = TargetSnapshot(
        target=target,
        title=None,
        pages=(PageSnapshot("65611", 8, True),),
        digest=snapshot_digest(target, None, [("65611", 8)]),
    )
    page_request = request(target=target, snapshot=snap, title="")
    text, blocks = request_message(page_request, site_url=SITE)
    assert message_problems(text, blocks) == [] and "page 65611" in all_text(blocks)


def test_a_waiting_stage_names_who_of_its_group_may_still_sign() -> None:
    review = Stage(name="Review", meaning="I reviewed them", signers=("U0BOB",), groups=("S0R",))
    policy = Policy("doc-control", (Stage(name="Author", signers=("U0ALICE",)), review))
    author = Signature(
        Signer("U0ALICE", "acc-alice", "Alice Author"),
        Decision.APPROVE,
        "I am the author",
        "",
        NOW,
        "0" * 64,
        stage=0,
    )
    members = {"S0R": frozenset({"U0ALICE", "U0CAROL", "U0REQ", "U0BOB"})}
    waiting = request(requester="U0REQ", policy=policy, signatures=(author,))
    text, blocks = request_message(waiting, site_url=SITE, members=members)
    shown = json.dumps(blocks, ensure_ascii=False)
    # Bob is named once; Alice signed already (one signature a person); the requester never.
    assert "may sign: <@U0BOB>, <!subteam^S0R> (<@U0CAROL>)" in shown
    assert message_problems(text, blocks) == []

    crowd = {"S0R": frozenset(f"U0M{i:03d}" for i in range(40))}
    text, blocks = request_message(waiting, site_url=SITE, members=crowd)
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "<@U0M007>, +32 more)" in shown and "U0M008" not in shown
    assert message_problems(text, blocks) == []

    nobody = {"S0R": frozenset({"U0ALICE", "U0REQ"})}
    _, blocks = request_message(waiting, site_url=SITE, members=nobody)
    assert "<!subteam^S0R> (nobody left in it)" in json.dumps(blocks, ensure_ascii=False)
    # Slack did not answer for the group: it is named as a group, as before.
    _, blocks = request_message(waiting, site_url=SITE)
    assert "may sign: <@U0BOB>, <!subteam^S0R>" in json.dumps(blocks, ensure_ascii=False)
