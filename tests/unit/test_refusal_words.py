"""Words in one place: each refusal type of services/errors.py has one renderer in handlers/,
and the services raise refusals that carry facts, never a sentence for a person."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import services.errors as errors
from bot.slack.sandbox_note import noted_blocks
from emulators.slack.blockkit_limits import message_problems
from handlers.blocks import refusals as renderer
from handlers.blocks.requests import note_message
from handlers.errors import user_message
from services.approvalflow.targets import TargetSnapshot
from services.errors import NotASigner, TokenLocked, UserError
from services.requests.model import ApprovalRequest, PageOutcome, Policy, Signature, Stage
from tests.unit.test_request_blocks import NOW, request, signature, snapshot

ROOT = Path(__file__).resolve().parents[2]

REFUSAL_TYPES = {
    cls
    for cls in vars(errors).values()
    if inspect.isclass(cls) and issubclass(cls, UserError) and cls.__module__ == errors.__name__
}

# A request of two stages whose first is signed: stage 0 is behind it, stage 1 open.
AUTHOR = dataclasses.replace(signature(), stage=0)
POLICY = Policy(
    "doc-control",
    (Stage("Author", "I am the author", ("U0BOB",)), Stage("Review", groups=("S0R",))),
)
# A value of each type a refusal's facts have, to build an example of every refusal.
SAMPLES: dict[Any, Any] = {
    ApprovalRequest: request(policy=POLICY, signatures=(AUTHOR,)),
    Signature: signature(),
    TargetSnapshot: snapshot(pages=3, blocked=3),
    tuple[PageOutcome, ...]: (PageOutcome("65600", "Login", False, "locked"),),
    datetime: NOW + timedelta(minutes=5),
    datetime | None: NOW + timedelta(minutes=5),
    int: 0,
    int | None: 409,
    str: "U0CAROL",
    str | None: "Page is locked",
    bool: False,
    list[str]: ["read:approvalflow:confluence"],
    Sequence[str]: ("release", "docs"),
}
NAMESPACE = {
    "ApprovalRequest": ApprovalRequest,
    "Signature": Signature,
    "TargetSnapshot": TargetSnapshot,
    "PageOutcome": PageOutcome,
}


def examples_of(cls: type[UserError]) -> list[UserError]:
    """An example of a refusal type; one for each value of a fact that is one of a few."""
    if not dataclasses.is_dataclass(cls):
        return [cls()]
    hints = typing.get_type_hints(cls, localns=NAMESPACE)
    facts = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    made = []
    for name, hint in facts.items():
        if typing.get_origin(hint) is typing.Literal:
            made += [cls(**_facts(facts, {name: value})) for value in typing.get_args(hint)]
    return made or [cls(**_facts(facts, {}))]


def _facts(facts: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    return {name: given[name] if name in given else SAMPLES[hint] for name, hint in facts.items()}


def examples() -> list[UserError]:
    types = sorted(REFUSAL_TYPES - renderer.CATEGORIES, key=str)
    return [error for cls in types for error in examples_of(cls)]


def test_every_refusal_type_has_exactly_one_renderer() -> None:
    assert len(REFUSAL_TYPES) > 80, "the scan finds the refusal types"
    assert renderer.CATEGORIES <= REFUSAL_TYPES
    assert set(renderer.REFUSALS) == REFUSAL_TYPES - renderer.CATEGORIES
    assert not renderer.CATEGORIES & set(renderer.REFUSALS)


def test_a_category_holds_no_facts() -> None:
    """Categories are what handlers/ and bot/ raise with a sentence of their own, and what
    callers catch; the facts are the refusal types'."""
    for category in renderer.CATEGORIES:
        assert not dataclasses.is_dataclass(category), category.__name__


@pytest.mark.parametrize("error", examples(), ids=lambda e: type(e).__name__)
def test_each_refusal_is_worded_and_its_str_is_facts_only(error: UserError) -> None:
    text = renderer.refusal_text(error)
    assert text.strip() and "{" not in text, text
    assert user_message(error) == text
    body, built = note_message(text)
    assert message_problems(body, noted_blocks(body, built)) == []
    # str() is for logs: the type and its facts, never the sentence a person reads.
    logged = str(error)
    assert logged.startswith(type(error).__name__)
    assert text not in logged and len(logged) < 400


def test_a_refusal_logs_a_request_by_its_id() -> None:
    logged = str(NotASigner(request()))
    assert logged == "NotASigner(request=AR-7K3Q)"
    locked = str(TokenLocked(NOW))
    assert locked == f"TokenLocked(until={NOW.isoformat()})"


def test_rewording_a_refusal_is_one_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing the renderer of one type changes what every place says of it, and only it."""
    refused = NotASigner(request())
    monkeypatch.setitem(renderer.REFUSALS, NotASigner, lambda e: f"Not yours: {e.request.id}")
    assert renderer.refusal_text(refused) == "Not yours: AR-7K3Q"
    assert user_message(refused) == "Not yours: AR-7K3Q"
    assert "Not yours" not in renderer.refusal_text(TokenLocked(NOW))


def test_a_category_raised_with_a_sentence_of_the_handlers_says_it() -> None:
    said = errors.InputError("Name one channel at most.")
    assert renderer.refusal_text(said) == "Name one channel at most."


def test_the_requests_wording_module_is_gone() -> None:
    assert not (ROOT / "services/requests/wording.py").exists()


def _worded(node: ast.expr) -> bool:
    """Whether an argument builds text: words (a one-word code is a fact), an f-string, a
    `.format` or a joining `+`."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and len(node.value.split()) > 1
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _worded(node.left) or _worded(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format"
    return False


def test_no_services_module_raises_a_refusal_with_text() -> None:
    """Every refusal the services build is a typed one carrying facts: never a bare category
    (that is for handlers/ with a sentence of theirs), and no argument of a refusal's
    constructor is words, an f-string or a formatted text (a page id or name passed through is
    a fact; a sentence is not)."""
    names = {cls.__name__ for cls in REFUSAL_TYPES}
    found = []
    modules = sorted((ROOT / "services").rglob("*.py"))
    assert len(modules) > 60
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id in {cls.__name__ for cls in renderer.CATEGORIES}:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: a bare {node.func.id}")
            if node.func.id not in names:
                continue
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if any(_worded(argument) for argument in arguments):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}")
    # BadCallback's `problem` is for the log only: never shown, it may echo what was sent.
    assert [line for line in found if not line.endswith(": BadCallback")] == []


def test_no_refusal_type_writes_a_sentence_of_its_own() -> None:
    """services/errors.py: a refusal's constructor is its facts (a dataclass) or none at all."""
    tree = ast.parse((ROOT / "services/errors.py").read_text())
    names = {cls.__name__ for cls in REFUSAL_TYPES}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in names:
            methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
            assert methods <= {"__str__"}, f"{node.name} defines {methods}"
