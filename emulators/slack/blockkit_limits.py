"""Checks Block Kit payloads (messages, modals, Home tabs) against Slack's published limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100  # modal and Home tab alike
MAX_PRIVATE_METADATA = 3000
MAX_ID = 255  # block_id, action_id, callback_id, external_id
VIEW_TYPES = ("modal", "home")
_MODAL_ONLY = ("title", "submit", "close")  # fields a Home tab may not carry
TEXT_TYPES = ("plain_text", "mrkdwn")


@dataclass(frozen=True)
class Text:
    """A text-object field; `plain` means Slack accepts only plain_text there."""

    key: str
    max_len: int
    required: bool = False
    plain: bool = True


@dataclass(frozen=True)
class Str:
    """A plain string field with a length limit."""

    key: str
    max_len: int
    required: bool = False


Rule = Text | Str

_PLACEHOLDER = Text("placeholder", 150)

# Per block type: the simple fields. Lists (elements, fields) and cross-field rules are
# handled in code below; a type missing from this table is an unknown block type.
BLOCK_RULES: dict[str, tuple[Rule, ...]] = {
    "section": (Text("text", 3000, plain=False),),
    "divider": (),
    "header": (Text("text", 150, required=True),),
    "actions": (),
    "context": (),
    "input": (Text("label", 2000, required=True), Text("hint", 2000)),
    "image": (Str("image_url", 3000), Str("alt_text", 2000, required=True), Text("title", 2000)),
    "rich_text": (),
    "markdown": (Str("text", 12000, required=True),),
    "file": (Str("external_id", MAX_ID, required=True),),
    "video": (
        Text("title", 200, required=True),
        Text("description", 200),
        Str("alt_text", 2000, required=True),
        Str("video_url", 3000, required=True),
        Str("thumbnail_url", 3000, required=True),
    ),
}

_SELECT_TYPES = (
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
)
_MULTI_SELECT_TYPES = tuple(f"multi_{t}" for t in _SELECT_TYPES)

# Per element type: the simple fields. action_id, confirm and options are checked for every
# element that carries them.
ELEMENT_RULES: dict[str, tuple[Rule, ...]] = {
    "button": (
        Text("text", 75, required=True),
        Str("value", 2000),
        Str("url", 3000),
        Str("accessibility_label", 75),
    ),
    "workflow_button": (Text("text", 75, required=True), Str("accessibility_label", 75)),
    "overflow": (),
    "datepicker": (_PLACEHOLDER,),
    "timepicker": (_PLACEHOLDER,),
    "datetimepicker": (),
    "checkboxes": (),
    "radio_buttons": (),
    "plain_text_input": (_PLACEHOLDER, Str("initial_value", 3000)),
    "email_text_input": (_PLACEHOLDER,),
    "url_text_input": (_PLACEHOLDER,),
    "number_input": (_PLACEHOLDER,),
    "rich_text_input": (_PLACEHOLDER,),
    "file_input": (),
    "image": (Str("image_url", 3000), Str("alt_text", 2000, required=True)),
    **{t: (_PLACEHOLDER,) for t in _SELECT_TYPES + _MULTI_SELECT_TYPES},
}

# Elements that list options, and how many they may hold.
OPTION_LIMITS: dict[str, int] = {
    "static_select": 100,
    "multi_static_select": 100,
    "overflow": 5,
    "checkboxes": 10,
    "radio_buttons": 10,
}
# Of those, the ones where an option's text may only be plain_text.
_PLAIN_OPTION_TYPES = frozenset({"static_select", "multi_static_select", "overflow"})

OPTION_RULES: tuple[Rule, ...] = (
    Str("value", 150, required=True),
    Text("description", 75, plain=False),
    Str("url", 3000),
)
CONFIRM_RULES: tuple[Rule, ...] = (
    Text("title", 100, required=True),
    Text("text", 300, required=True, plain=False),
    Text("confirm", 30, required=True),
    Text("deny", 30, required=True),
)

# What an input block may wrap.
INPUT_ELEMENTS = frozenset(
    {
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "rich_text_input",
        "file_input",
        "checkboxes",
        "radio_buttons",
        "datepicker",
        "timepicker",
        "datetimepicker",
        *_SELECT_TYPES,
        *_MULTI_SELECT_TYPES,
    }
)
_MAX_ACTIONS_ELEMENTS = 25
_MAX_CONTEXT_ELEMENTS = 10
_MAX_SECTION_FIELDS = 10
_MAX_FIELD_TEXT = 2000
_MAX_OPTION_GROUPS = 100
_MAX_OPTION_TEXT = 75
_MAX_TEXT_INPUT = 3000


def message_problems(
    text: str | None,
    blocks: list[dict[str, Any]] | None,
    *,
    attachments: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Problems with a message (chat.postMessage, chat.update, a response_url reply)."""
    problems: list[str] = []
    if text is not None and not isinstance(text, str):
        problems.append(f"text must be a string, got {type(text).__name__}")
    has_text = isinstance(text, str) and text != ""
    if blocks is not None and not isinstance(blocks, list):
        problems.append(f"blocks must be a list, got {type(blocks).__name__}")
    elif blocks:
        # Slack needs the fallback for notifications and screen readers.
        if not has_text:
            problems.append("text: a message with blocks needs a non-empty text fallback")
        problems += blocks_problems(blocks, MAX_MESSAGE_BLOCKS, "blocks")
    elif not has_text and not attachments:
        problems.append("a message needs text or blocks")
    return problems


def view_problems(view: Mapping[str, Any]) -> list[str]:
    """Problems with a modal or Home tab view (views.open/push/update/publish, ack views)."""
    if not isinstance(view, Mapping):
        return [f"view must be an object, got {type(view).__name__}"]
    problems: list[str] = []
    kind = view.get("type")
    if kind not in VIEW_TYPES:
        problems.append(f"view.type must be one of {', '.join(VIEW_TYPES)}, got {kind!r}")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        problems.append("view.blocks is required and must be a list")
        blocks = []
    problems += blocks_problems(blocks, MAX_VIEW_BLOCKS, "view.blocks")
    problems += _rules(
        view,
        "view",
        (
            Str("private_metadata", MAX_PRIVATE_METADATA),
            Str("callback_id", MAX_ID),
            Str("external_id", MAX_ID),
        ),
    )
    if kind == "modal":
        problems += _rules(
            view,
            "view",
            (Text("title", 24, required=True), Text("submit", 24), Text("close", 24)),
        )
        has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            problems.append("view.submit is required when a modal has an input block")
    elif kind == "home":
        problems += [f"view.{k}: a home view may not have {k}" for k in _MODAL_ONLY if k in view]
    return problems


def blocks_problems(blocks: list[Any], max_blocks: int, path: str = "blocks") -> list[str]:
    """Problems with a surface's block list: count, unique block_ids, each block."""
    if not isinstance(blocks, list):
        return [f"{path} must be a list, got {type(blocks).__name__}"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"{path} has {len(blocks)} blocks; the limit is {max_blocks}")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"{path}[{i}]"
        if not isinstance(block, Mapping):
            problems.append(f"{where} must be an object")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen:
                problems.append(f"{where}.block_id {block_id!r} is not unique in the surface")
            seen.add(block_id)
        problems += block_problems(block, where)
    return problems


def block_problems(block: Mapping[str, Any], path: str = "block") -> list[str]:
    """Problems with one block."""
    kind = block.get("type")
    rules = BLOCK_RULES.get(kind) if isinstance(kind, str) else None
    if rules is None:
        return [f"{path}.type {kind!r} is not a known block type"]
    problems = _rules(block, path, (Str("block_id", MAX_ID), *rules))
    elements: list[tuple[str, Any]] = []  # (path, element) of interactive children
    if kind == "section":
        problems += _section(block, path)
        if "accessory" in block:
            elements.append((f"{path}.accessory", block["accessory"]))
    elif kind == "actions":
        items = _list(block, "elements", path, problems, 1, _MAX_ACTIONS_ELEMENTS)
        elements += [(f"{path}.elements[{i}]", e) for i, e in enumerate(items)]
    elif kind == "context":
        items = _list(block, "elements", path, problems, 1, _MAX_CONTEXT_ELEMENTS)
        for i, item in enumerate(items):
            problems += _context_item(item, f"{path}.elements[{i}]")
    elif kind == "input":
        element = block.get("element")
        if not isinstance(element, Mapping):
            problems.append(f"{path}.element is required in an input block")
        else:
            if element.get("type") not in INPUT_ELEMENTS:
                problems.append(
                    f"{path}.element.type {element.get('type')!r} cannot be used in an input block"
                )
            elements.append((f"{path}.element", element))
    action_ids: set[str] = set()
    for where, element in elements:
        problems += element_problems(element, where)
        action_id = element.get("action_id") if isinstance(element, Mapping) else None
        if isinstance(action_id, str):
            if action_id in action_ids:
                problems.append(f"{where}.action_id {action_id!r} is not unique in the block")
            action_ids.add(action_id)
    return problems


def element_problems(element: Any, path: str = "element") -> list[str]:
    """Problems with one block element (button, select, text input...)."""
    if not isinstance(element, Mapping):
        return [f"{path} must be an object"]
    kind = element.get("type")
    rules = ELEMENT_RULES.get(kind) if isinstance(kind, str) else None
    if rules is None:
        return [f"{path}.type {kind!r} is not a known element type"]
    problems = _rules(element, path, (Str("action_id", MAX_ID), *rules))
    if isinstance(element.get("confirm"), Mapping):
        problems += _rules(element["confirm"], f"{path}.confirm", CONFIRM_RULES)
    elif "confirm" in element:
        problems.append(f"{path}.confirm must be an object")
    if kind in OPTION_LIMITS:
        problems += _options_holder(element, str(kind), path)
    if kind == "plain_text_input":
        problems += _text_input_lengths(element, path)
    return problems


def assert_valid_message(
    text: str | None,
    blocks: list[dict[str, Any]] | None,
    *,
    attachments: list[dict[str, Any]] | None = None,
) -> None:
    """Raise ValueError listing every problem with the message."""
    _raise(message_problems(text, blocks, attachments=attachments), "message")


def assert_valid_view(view: Mapping[str, Any]) -> None:
    """Raise ValueError listing every problem with the view."""
    _raise(view_problems(view), "view")


def _raise(problems: list[str], what: str) -> None:
    if problems:
        raise ValueError(f"invalid Block Kit {what}: " + "; ".join(problems))


def _rules(obj: Mapping[str, Any], path: str, rules: tuple[Rule, ...]) -> list[str]:
    problems: list[str] = []
    for rule in rules:
        where = f"{path}.{rule.key}"
        if rule.key not in obj:
            if rule.required:
                problems.append(f"{where} is required")
            continue
        value = obj[rule.key]
        if isinstance(rule, Text):
            problems += text_object_problems(value, where, rule.max_len, plain_only=rule.plain)
        elif not isinstance(value, str):
            problems.append(f"{where} must be a string, got {type(value).__name__}")
        elif len(value) > rule.max_len:
            problems.append(f"{where} is {len(value)} characters; the limit is {rule.max_len}")
        elif rule.required and not value:
            problems.append(f"{where} must not be empty")
    return problems


def text_object_problems(
    obj: Any, path: str, max_len: int, *, plain_only: bool = False
) -> list[str]:
    """Problems with a text object: its type, a non-empty text, and the length limit."""
    if not isinstance(obj, Mapping):
        return [f"{path} must be a text object, got {type(obj).__name__}"]
    problems: list[str] = []
    kind = obj.get("type")
    if kind not in TEXT_TYPES:
        problems.append(f"{path}.type must be plain_text or mrkdwn, got {kind!r}")
    elif plain_only and kind != "plain_text":
        problems.append(f"{path}.type must be plain_text, got {kind!r}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{path}.text must be a non-empty string")
    elif len(text) > max_len:
        problems.append(f"{path}.text is {len(text)} characters; the limit is {max_len}")
    return problems


def _list(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    problems: list[str],
    min_items: int,
    max_items: int,
) -> list[Any]:
    """Reads a list field, recording a problem when it is missing or its size is out of range."""
    items = obj.get(key)
    where = f"{path}.{key}"
    if not isinstance(items, list):
        problems.append(f"{where} is required and must be a list")
        return []
    if len(items) < min_items:
        problems.append(f"{where} needs at least {min_items} item(s)")
    if len(items) > max_items:
        problems.append(f"{where} has {len(items)} items; the limit is {max_items}")
    return items


def _section(block: Mapping[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    if "text" not in block and "fields" not in block:
        problems.append(f"{path} needs text or fields")
    if "fields" in block:
        fields = _list(block, "fields", path, problems, 1, _MAX_SECTION_FIELDS)
        for i, field in enumerate(fields):
            problems += text_object_problems(field, f"{path}.fields[{i}]", _MAX_FIELD_TEXT)
    return problems


def _context_item(item: Any, path: str) -> list[str]:
    # A context block holds images and text objects only.
    if isinstance(item, Mapping) and item.get("type") == "image":
        return element_problems(item, path)
    return text_object_problems(item, path, 3000)


def _options_holder(element: Mapping[str, Any], kind: str, path: str) -> list[str]:
    problems: list[str] = []
    plain = kind in _PLAIN_OPTION_TYPES
    limit = OPTION_LIMITS[kind]
    if "option_groups" in element and kind in ("static_select", "multi_static_select"):
        groups = _list(element, "option_groups", path, problems, 1, _MAX_OPTION_GROUPS)
        for g, group in enumerate(groups):
            where = f"{path}.option_groups[{g}]"
            if not isinstance(group, Mapping):
                problems.append(f"{where} must be an object")
                continue
            problems += _rules(group, where, (Text("label", _MAX_OPTION_TEXT, required=True),))
            for i, option in enumerate(_list(group, "options", where, problems, 1, limit)):
                problems += _option(option, f"{where}.options[{i}]", plain)
        return problems
    for i, option in enumerate(_list(element, "options", path, problems, 1, limit)):
        problems += _option(option, f"{path}.options[{i}]", plain)
    return problems


def _option(option: Any, path: str, plain: bool) -> list[str]:
    if not isinstance(option, Mapping):
        return [f"{path} must be an object"]
    rules = (Text("text", _MAX_OPTION_TEXT, required=True, plain=plain), *OPTION_RULES)
    return _rules(option, path, rules)


def _text_input_lengths(element: Mapping[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    low, high = element.get("min_length"), element.get("max_length")
    for key, value, floor in (("min_length", low, 0), ("max_length", high, 1)):
        if value is None:
            continue
        # bool is an int subclass; Slack would reject true/false here.
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}.{key} must be an integer")
        elif not floor <= value <= _MAX_TEXT_INPUT:
            problems.append(f"{path}.{key} is {value}; it must be {floor}-{_MAX_TEXT_INPUT}")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.append(f"{path}.min_length {low} is greater than max_length {high}")
    return problems
