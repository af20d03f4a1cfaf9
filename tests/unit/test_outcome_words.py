"""Words in one place: each outcome type has one renderer in handlers/, and the services say
nothing a person reads about what happened to a request."""

from __future__ import annotations

import ast
import json
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.slack.sandbox_note import noted_blocks, noted_view
from emulators.slack.blockkit_limits import message_problems, view_problems
from handlers.blocks import outcomes as renderer
from handlers.blocks.requests import note_message
from handlers.blocks.signing import signed_view
from services.errors import UpstreamTimeout, UpstreamUnavailable
from services.requests.model import Decision, PageOutcome, Signature, Signer, SubmitAttempt
from services.requests.outcomes import (
    ChannelClosed,
    Escalated,
    Expired,
    Outcome,
    Reassigned,
    Rejected,
    Reminded,
    ReviewChanged,
    Signed,
    SignerDeactivated,
    SignOutcome,
    StageCompleted,
    SubmitFailed,
    SubmitInterrupted,
    Submitted,
    SubmitUnknown,
)
from tests.unit.test_request_blocks import NOW, request

ROOT = Path(__file__).resolve().parents[2]
SITE = "https://x.atlassian.net"
BOB = Signer("U0BOB", "acc-bob", "Bob Baker")
SIGNATURE = Signature(
    signer=BOB,
    decision=Decision.APPROVE,
    meaning="I reviewed these changes",
    comment="",
    signed_at=NOW + timedelta(minutes=5),
    snapshot_digest="0" * 64,
)
ATTEMPT = SubmitAttempt("a1", BOB, NOW + timedelta(minutes=5), ("65600",))
REJECTION = Signature(
    signer=BOB,
    decision=Decision.REJECT,
    meaning="I reject submitting these 3 pages for review",
    comment="The SSO page still names the old login URL.",
    signed_at=NOW + timedelta(minutes=5),
    snapshot_digest="0" * 64,
)


def examples() -> list[Outcome]:
    req = request(message_ts="1700000000.000100", signatures=(SIGNATURE,))
    pages = (PageOutcome("65600", "Login", True), PageOutcome("65601", None, False, "locked"))
    return [
        Signed(req, SIGNATURE),
        StageCompleted(req, SIGNATURE),
        Rejected(req, REJECTION),
        Submitted(req, ATTEMPT, pages),
        Submitted(req, ATTEMPT, pages, unconfirmed="no answer in time"),
        SubmitFailed(req, ATTEMPT, UpstreamUnavailable("ApprovalFlow answered HTTP 500.")),
        SubmitUnknown(req, ATTEMPT, UpstreamTimeout("no answer in time")),
        SubmitInterrupted(req, ATTEMPT),
        Expired(req),
        Reminded(req),
        Escalated(req, 0),
        Reassigned(req, "U0ALICE", "U0BOB", "U0CAROL", "on leave"),
        ReviewChanged(req, "stale", final=True),
        ReviewChanged(req, "in_review", final=False),
        SignerDeactivated(req, "U0BOB", requester=False),
        ChannelClosed(req, "archived"),
    ]


def test_every_outcome_type_has_exactly_one_renderer() -> None:
    types = set(typing.get_args(Outcome))
    assert set(renderer.RENDERERS) == types
    functions = list(renderer.RENDERERS.values())
    assert len(set(functions)) == len(functions), "two outcome types share one renderer"
    assert {type(o) for o in examples()} == types, "an example of every outcome type"


@pytest.mark.parametrize("outcome", examples(), ids=lambda o: type(o).__name__)
def test_each_outcome_says_something_and_every_reply_is_valid_block_kit(outcome: Outcome) -> None:
    told = renderer.words(outcome)
    said = [*told.thread, *([told.dm] if told.dm else []), *([told.kept] if told.kept else [])]
    assert said and all(text.strip() for text in said)
    for text in [*told.thread, *([told.dm] if told.dm else [])]:
        body, built = note_message(text)
        blocks = noted_blocks(body, built)  # as the adapter sends it in sandbox mode
        assert message_problems(body, blocks) == []


def test_every_outcome_a_signature_comes_to_has_its_modal_text() -> None:
    """The signer's modal says what their signature came to from the same typed outcome."""
    types = typing.get_args(SignOutcome)
    assert set(renderer.SIGNED) == set(types)
    signed: list[Any] = [o for o in examples() if isinstance(o, types)]
    assert {type(o) for o in signed} == set(types), "an example of each"
    for outcome in signed:
        assert renderer.signed_text(outcome, SITE).strip()
        assert view_problems(noted_view(signed_view(outcome, site_url=SITE))) == []


def test_rewording_an_outcome_in_the_modal_is_one_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    rejected = Rejected(request(), REJECTION)
    monkeypatch.setitem(renderer.SIGNED, Rejected, lambda o, site: f"Refused: {o.request.id}")
    view = signed_view(rejected, site_url=SITE)
    assert "Refused: AR-7K3Q" in json.dumps(view)


def test_rewording_an_outcome_is_one_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing the renderer of one type changes what every place says of it, and only it."""
    reminded = Reminded(request())
    monkeypatch.setitem(
        renderer.RENDERERS, Reminded, lambda o: renderer.Words(thread=(f"Nudge: {o.request.id}",))
    )
    assert renderer.words(reminded).thread == ("Nudge: AR-7K3Q",)
    assert renderer.kept_note(reminded) == "Nudge: AR-7K3Q"
    assert renderer.words(Expired(request())).thread == ()


def _literals(path: Path) -> set[str]:
    """The string literals of a module, docstrings left out (they are for developers)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    }


def _not_for_people(tree: ast.AST) -> set[int]:
    """Nodes whose text no person in Slack reads: docstrings, log lines, audit reasons and
    store failures (which reach people only as the handlers' own "storage" sentence)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.body and isinstance(node.body[0], ast.Expr):
                skipped.add(id(node.body[0].value))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        logged = isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "log"
        stored = isinstance(func, ast.Name) and func.id == "StoreError"
        parts: list[ast.AST] = [node] if logged or stored else []
        parts += [keyword.value for keyword in node.keywords if keyword.arg == "reason"]
        skipped.update(id(sub) for part in parts for sub in ast.walk(part))
    return skipped


def _sentences(path: Path) -> list[str]:
    """Literals and f-strings of four words or more that a person could read."""
    tree = ast.parse(path.read_text())
    skipped = _not_for_people(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(sub) for sub in ast.walk(node))
            text = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if len(text.split()) >= 4:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:60]!r}")
    return found


# The requests feature's words: operators' policy-file problems in policies.py; the domain's
# signed meanings in model.py. Everything else in the feature says what happened only as a typed
# outcome, and why a step was refused only as a typed refusal (both worded in handlers/).
WORDED = {"policies.py", "model.py"}


def test_the_requests_services_hold_no_sentences_outside_their_wording() -> None:
    modules = [
        *(p for p in (ROOT / "services/requests").glob("*.py") if p.name not in WORDED),
        ROOT / "services/workspace.py",
    ]
    assert len(modules) > 10
    found = [line for path in modules for line in _sentences(path)]
    assert found == []


def test_no_services_module_says_what_happened_to_a_request() -> None:
    """No piece of the renderer's sentences (four words or more) is in a string of the
    services (state names and short phrases like "submitted for review" may be shared)."""
    fragments = {
        text.strip()
        for text in _literals(ROOT / "handlers/blocks/outcomes.py")
        if len(text.split()) >= 4
    }
    assert len(fragments) > 30, "the scan looks at the renderer's sentences"
    services = {
        path.relative_to(ROOT): _literals(path) for path in (ROOT / "services").rglob("*.py")
    }
    found = {
        f"{path}: {fragment!r}"
        for path, literals in services.items()
        for fragment in fragments
        if any(fragment in literal for literal in literals)
    }
    assert found == set()


def test_the_old_outcome_sentences_are_gone_from_the_services() -> None:
    old = [
        "rejected this at",
        "Submitted for review in ApprovalFlow as",
        "is still waiting for a signature",
        "Escalation: ",
        "reassigned <@",
        "was deactivated in Slack, so they can no longer sign",
        "Tracking ends here",
        "is pending again",
        "was interrupted (the bot restarted)",
        "did not confirm the submit in time",
        "If it is still needed, post a new one",
        "please sign",
        "is signed.",
        "It can still be signed",
    ]
    sources = {
        path.relative_to(ROOT): "\n".join(_literals(path))
        for path in (ROOT / "services" / "requests").rglob("*.py")
    }
    sources[Path("services/workspace.py")] = "\n".join(_literals(ROOT / "services/workspace.py"))
    found = [f"{path}: {text!r}" for path, src in sources.items() for text in old if text in src]
    assert found == []
