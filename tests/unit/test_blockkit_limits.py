"""The Block Kit validator: valid surfaces pass, and each limit broken names itself."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from emulators.slack.blockkit_limits import (
    assert_valid_message,
    assert_valid_view,
    message_problems,
    view_problems,
)

JSONDict = dict[str, Any]


def plain(text: str) -> JSONDict:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> JSONDict:
    return {"type": "mrkdwn", "text": text}


def option(text: str, value: str) -> JSONDict:
    return {"text": plain(text), "value": value}


def button(action_id: str = "approve", **extra: Any) -> JSONDict:
    return {"type": "button", "text": plain("Approve"), "action_id": action_id, **extra}


CONFIRM: JSONDict = {
    "title": plain("Sure?"),
    "text": mrkdwn("This submits *15 pages*."),
    "confirm": plain("Yes"),
    "deny": plain("No"),
}


def message_blocks() -> list[JSONDict]:
    """A message using most block and element types, every field inside its limit."""
    return [
        {"type": "header", "block_id": "head", "text": plain("Sign off PR-184")},
        {
            "type": "section",
            "block_id": "summary",
            "text": mrkdwn("*15 pages* ready"),
            "fields": [mrkdwn("*Space*\nDOCS"), plain("v12")],
            "accessory": {
                "type": "overflow",
                "action_id": "more",
                "options": [option("Open", "open"), option("Archive", "archive")],
            },
        },
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                button("approve", style="primary", value="AR-7K3Q", confirm=CONFIRM),
                button("reject", style="danger", value="AR-7K3Q"),
                button("open", url="https://acme.atlassian.net/wiki/x"),
                {
                    "type": "static_select",
                    "action_id": "pick",
                    "placeholder": plain("Choose"),
                    "options": [option("One", "1"), option("Two", "2")],
                },
            ],
        },
        {
            "type": "context",
            "elements": [
                mrkdwn("Requested by <@U1>"),
                {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "avatar"},
            ],
        },
        {"type": "image", "image_url": "https://example.com/qr.png", "alt_text": "QR code"},
    ]


def modal() -> JSONDict:
    return {
        "type": "modal",
        "callback_id": "sign",
        "private_metadata": '{"request": "AR-7K3Q"}',
        "title": plain("Approve PR-184"),
        "submit": plain("Sign"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "section", "text": mrkdwn("I approve submitting these 15 pages for review")},
            {
                "type": "input",
                "block_id": "code",
                "label": plain("Approval code"),
                "hint": plain("6 digits from your authenticator"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "code",
                    "min_length": 6,
                    "max_length": 6,
                    "placeholder": plain("123456"),
                },
            },
            {
                "type": "input",
                "block_id": "reason",
                "optional": True,
                "label": plain("Reason"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reason",
                    "multiline": True,
                    "min_length": 20,
                    "max_length": 280,
                },
            },
            {
                "type": "input",
                "block_id": "who",
                "label": plain("Reviewers"),
                "element": {"type": "multi_users_select", "action_id": "who"},
            },
            {
                "type": "input",
                "block_id": "choice",
                "label": plain("Choice"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": "choice",
                    "options": [
                        {"text": mrkdwn("*Yes*"), "value": "y", "description": plain("ok")},
                        option("No", "n"),
                    ],
                },
            },
        ],
    }


def home() -> JSONDict:
    return {"type": "home", "blocks": [{"type": "section", "text": mrkdwn("Your tokens")}]}


def test_valid_surfaces_pass() -> None:
    assert message_problems("fallback", message_blocks()) == []
    assert message_problems("just text", None) == []
    assert view_problems(modal()) == []
    assert view_problems(home()) == []
    assert_valid_message("fallback", message_blocks())
    assert_valid_view(modal())


def test_limits_at_exactly_the_maximum_pass() -> None:
    view = modal()
    view["title"] = plain("x" * 24)
    view["private_metadata"] = "m" * 3000
    view["blocks"] += [{"type": "divider"} for _ in range(100 - len(view["blocks"]))]
    assert view_problems(view) == []
    blocks = [{"type": "section", "text": mrkdwn("x" * 3000)} for _ in range(50)]
    blocks[0]["accessory"] = button(value="v" * 2000, url="https://e.com/" + "u" * 2986)
    assert message_problems("fallback", blocks) == []


def test_assertions_raise_value_error_listing_every_problem() -> None:
    view = modal()
    view["title"] = plain("x" * 25)
    view["private_metadata"] = "m" * 3001
    with pytest.raises(ValueError, match="title") as caught:
        assert_valid_view(view)
    assert "private_metadata" in str(caught.value)
    with pytest.raises(ValueError, match="fallback"):
        assert_valid_message(None, message_blocks())


Mutation = Callable[[Any], None]


def _set(path: str, value: Any) -> Mutation:
    """Sets a dotted/indexed path such as `blocks.3.elements.0.value`."""

    def mutate(root: Any) -> None:
        *parents, last = path.split(".")
        target = root
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _append_blocks(count: int, kind: str = "divider") -> Mutation:
    return lambda root: root["blocks"].extend({"type": kind} for _ in range(count))


MESSAGE_CASES: list[tuple[str, Mutation, tuple[str, ...]]] = [
    ("51 blocks", _append_blocks(51 - 6), ("51 blocks", "limit is 50")),
    ("section text 3001", _set("blocks.1.text.text", "x" * 3001), ("blocks[1].text", "3000")),
    (
        "11 fields",
        _set("blocks.1.fields", [plain("f")] * 11),
        ("blocks[1].fields", "limit is 10"),
    ),
    ("field 2001", _set("blocks.1.fields.0.text", "f" * 2001), ("fields[0]", "2000")),
    ("header 151", _set("blocks.0.text.text", "h" * 151), ("blocks[0].text", "150")),
    ("header mrkdwn", _set("blocks.0.text.type", "mrkdwn"), ("must be plain_text",)),
    ("26 actions", _set("blocks.3.elements", [button(f"a{i}") for i in range(26)]), ("25",)),
    (
        "11 context elements",
        _set("blocks.4.elements", [plain("c")] * 11),
        ("blocks[4].elements", "limit is 10"),
    ),
    ("button text 76", _set("blocks.3.elements.1.text.text", "b" * 76), ("text", "75")),
    ("button value 2001", _set("blocks.3.elements.1.value", "v" * 2001), ("value", "2000")),
    ("button url 3001", _set("blocks.3.elements.2.url", "u" * 3001), ("url", "3000")),
    ("action_id 256", _set("blocks.3.elements.1.action_id", "a" * 256), ("action_id", "255")),
    (
        "duplicate action_id",
        _set("blocks.3.elements.1.action_id", "approve"),
        ("action_id 'approve' is not unique",),
    ),
    ("block_id 256", _set("blocks.3.block_id", "b" * 256), ("block_id", "255")),
    ("duplicate block_id", _set("blocks.3.block_id", "head"), ("block_id 'head' is not unique",)),
    (
        "confirm title 101",
        _set("blocks.3.elements.0.confirm.title.text", "t" * 101),
        ("confirm.title", "100"),
    ),
    (
        "confirm text 301",
        _set("blocks.3.elements.0.confirm.text.text", "t" * 301),
        ("confirm.text", "300"),
    ),
    (
        "confirm confirm 31",
        _set("blocks.3.elements.0.confirm.confirm.text", "c" * 31),
        ("confirm.confirm", "30"),
    ),
    (
        "confirm deny 31",
        _set("blocks.3.elements.0.confirm.deny.text", "d" * 31),
        ("confirm.deny", "30"),
    ),
    (
        "placeholder 151",
        _set("blocks.3.elements.3.placeholder.text", "p" * 151),
        ("placeholder", "150"),
    ),
    (
        "option text 76",
        _set("blocks.3.elements.3.options.0.text.text", "o" * 76),
        ("options[0].text", "75"),
    ),
    (
        "option value 151",
        _set("blocks.3.elements.3.options.0.value", "o" * 151),
        ("options[0].value", "150"),
    ),
    (
        "101 options",
        _set("blocks.3.elements.3.options", [option("o", str(i)) for i in range(101)]),
        ("options has 101 items", "limit is 100"),
    ),
    (
        "6 overflow options",
        _set("blocks.1.accessory.options", [option("o", str(i)) for i in range(6)]),
        ("accessory.options", "limit is 5"),
    ),
    ("unknown block type", _set("blocks.2.type", "sectoin"), ("'sectoin' is not a known block",)),
    (
        "unknown element type",
        _set("blocks.3.elements.1.type", "buton"),
        ("'buton' is not a known element",),
    ),
    ("bad text type", _set("blocks.1.text.type", "markdown"), ("plain_text or mrkdwn",)),
    ("empty text", _set("blocks.1.text.text", ""), ("non-empty",)),
    ("missing button text", lambda r: r["blocks"][3]["elements"][1].pop("text"), ("required",)),
    ("empty actions", _set("blocks.3.elements", []), ("at least 1",)),
    ("image without alt_text", lambda r: r["blocks"][5].pop("alt_text"), ("alt_text",)),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in MESSAGE_CASES],
)
def test_each_message_limit_is_reported(mutate: Mutation, expected: tuple[str, ...]) -> None:
    root = {"blocks": copy.deepcopy(message_blocks())}
    mutate(root)
    problems = message_problems("fallback", root["blocks"])
    assert problems, "expected a problem"
    joined = "\n".join(problems)
    for fragment in expected:
        assert fragment in joined, joined


def test_message_needs_text_fallback_with_blocks() -> None:
    for text in (None, ""):
        problems = message_problems(text, message_blocks())
        assert any("fallback" in p for p in problems), problems


def test_message_needs_some_content() -> None:
    assert message_problems(None, None) == ["a message needs text or blocks"]
    assert message_problems(None, None, attachments=[{"text": "legacy"}]) == []
    assert message_problems("t", "not a list") == ["blocks must be a list, got str"]  # type: ignore[arg-type]


VIEW_CASES: list[tuple[str, Mutation, tuple[str, ...]]] = [
    ("title 25", _set("title.text", "t" * 25), ("view.title.text is 25 characters", "24")),
    ("title missing", lambda v: v.pop("title"), ("view.title is required",)),
    ("title mrkdwn", _set("title.type", "mrkdwn"), ("view.title.type must be plain_text",)),
    ("submit 25", _set("submit.text", "s" * 25), ("view.submit", "24")),
    ("close 25", _set("close.text", "c" * 25), ("view.close", "24")),
    ("submit missing", lambda v: v.pop("submit"), ("view.submit is required",)),
    ("metadata 3001", _set("private_metadata", "m" * 3001), ("private_metadata", "3000")),
    ("callback_id 256", _set("callback_id", "c" * 256), ("callback_id", "255")),
    ("101 blocks", _append_blocks(101 - 5), ("101 blocks", "limit is 100")),
    ("bad type", _set("type", "dialog"), ("view.type must be one of modal, home",)),
    ("label 2001", _set("blocks.1.label.text", "l" * 2001), ("blocks[1].label", "2000")),
    ("hint 2001", _set("blocks.1.hint.text", "h" * 2001), ("blocks[1].hint", "2000")),
    ("label mrkdwn", _set("blocks.1.label.type", "mrkdwn"), ("label.type must be plain_text",)),
    ("input without element", lambda v: v["blocks"][1].pop("element"), ("element is required",)),
    (
        "input with a button",
        _set("blocks.1.element", button()),
        ("'button' cannot be used in an input block",),
    ),
    ("min_length -1", _set("blocks.1.element.min_length", -1), ("min_length is -1", "0-3000")),
    ("min_length 3001", _set("blocks.1.element.min_length", 3001), ("min_length is 3001",)),
    ("max_length 0", _set("blocks.1.element.max_length", 0), ("max_length is 0", "1-3000")),
    ("max_length 3001", _set("blocks.1.element.max_length", 3001), ("max_length is 3001",)),
    (
        "min over max",
        _set("blocks.2.element.min_length", 300),
        ("min_length 300 is greater than max_length 280",),
    ),
    ("max_length text", _set("blocks.1.element.max_length", "6"), ("must be an integer",)),
    (
        "11 radio options",
        _set("blocks.4.element.options", [option("o", str(i)) for i in range(11)]),
        ("limit is 10",),
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in VIEW_CASES],
)
def test_each_view_limit_is_reported(mutate: Mutation, expected: tuple[str, ...]) -> None:
    view = modal()
    mutate(view)
    joined = "\n".join(view_problems(view))
    assert joined, "expected a problem"
    for fragment in expected:
        assert fragment in joined, joined


def test_home_view_rules() -> None:
    view = home()
    view["title"] = plain("Home")
    view["submit"] = plain("Go")
    problems = view_problems(view)
    assert any("view.title" in p and "home" in p for p in problems), problems
    assert any("view.submit" in p for p in problems), problems
    view = home()
    view["blocks"] += [{"type": "divider"}] * 100
    assert any("101 blocks" in p for p in view_problems(view))


def test_garbage_never_crashes() -> None:
    assert view_problems("nope")  # type: ignore[arg-type]
    assert view_problems({"type": "modal"})
    assert message_problems("t", [None, 3, {"type": None}, {"type": "actions", "elements": [7]}])  # type: ignore[list-item]
    weird: JSONDict = {
        "type": "modal",
        "title": "plain string",
        "blocks": [
            {"type": "section", "fields": "x"},
            {"type": "input", "label": plain("l"), "element": {"type": "static_select"}},
            {"type": "context", "elements": [{"type": "image"}]},
        ],
    }
    problems = view_problems(weird)
    assert any("must be a text object" in p for p in problems)
    assert any("options is required" in p for p in problems)
