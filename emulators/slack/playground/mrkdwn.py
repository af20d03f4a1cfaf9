"""Slack's mrkdwn to safe HTML: bold, italic, strike, code, quotes, links and mentions."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from markupsafe import Markup

# Spans that take their content literally, and Slack's angle-bracket tokens; split out first.
_TOKENS = re.compile(r"(```.+?```|`[^`\n]+`|<[^<>\n]+>)", re.DOTALL)
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_SAFE_SCHEMES = ("http://", "https://", "mailto:", "slack://")

Namer = Callable[[str], str]
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_EMOJI_CODE = re.compile(r":([a-z0-9_+-]+):")
# Slack's standard emoji that messages commonly carry; others show as their :code:, as a
# custom emoji missing from a workspace does in Slack.
EMOJI = {
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "warning": "⚠️",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "x": "❌",
    "lock": "🔒",
    "no_entry_sign": "🚫",
    "no_entry": "⛔",
    "white_circle": "⚪",
    "red_circle": "🔴",
    "large_yellow_circle": "🟡",
    "large_green_circle": "🟢",
    "large_blue_circle": "🔵",
    "test_tube": "🧪",
    "rotating_light": "🚨",
    "iphone": "📱",
    "inbox_tray": "📥",
    "outbox_tray": "📤",
    "black_nib": "✒️",
    "pencil2": "✏️",
    "memo": "📝",
    "arrows_counterclockwise": "🔄",
    "see_no_evil": "🙈",
    "mag": "🔍",
    "information_source": "ℹ️",
    "heavy_minus_sign": "➖",
    "grey_question": "❔",
    "question": "❓",
    "file_cabinet": "🗄️",
    "eyes": "👀",
    "key": "🔑",
    "bell": "🔔",
    "page_facing_up": "📄",
    "link": "🔗",
    "tada": "🎉",
    "clipboard": "📋",
    "calendar": "📆",
    "bust_in_silhouette": "👤",
    "busts_in_silhouette": "👥",
}


def to_html(text: str, *, user_name: Namer, channel_name: Namer, group_name: Namer) -> Markup:
    """Render mrkdwn; `*_name` turn ids into names for mentions that carry no label."""
    # Tokens become placeholders while bold/italic/strike are applied to the whole text, so
    # `*<@U1>*` is a bold mention; then each placeholder is swapped for its rendering.
    pieces: list[str] = []
    literal: list[str] = []
    for index, part in enumerate(_TOKENS.split(text)):
        if index % 2 == 0:
            pieces.append(part.replace("\x00", ""))  # keep placeholders unforgeable
            continue
        if part.startswith("```"):
            literal.append(f"<pre>{_escape(part[3:-3])}</pre>")
        elif part.startswith("`"):
            literal.append(f"<code>{_escape(part[1:-1])}</code>")
        else:
            literal.append(_token(part[1:-1], user_name, channel_name, group_name))
        pieces.append(f"\x00{len(literal) - 1}\x00")
    rendered = _plain("".join(pieces))
    rendered = _PLACEHOLDER.sub(lambda m: literal[int(m.group(1))], rendered)
    return Markup(_quotes(rendered).replace("\n", "<br>"))  # noqa: S704 - every part escaped


def plain_html(text: str) -> Markup:
    """plain_text objects: escaped, line breaks kept, no formatting."""
    return Markup(_escape(text).replace("\n", "<br>"))  # noqa: S704 - escaped above


def emoji_plain(text: str) -> Markup:
    """plain_text with `emoji: true` (Slack's default): shortcodes become emoji."""
    return Markup(_emoji(_escape(text)).replace("\n", "<br>"))  # noqa: S704 - escaped first


def _emoji(text: str) -> str:
    return _EMOJI_CODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def _escape(text: str) -> str:
    # Slack text arrives with & < > as entities; show them as the characters they stand for.
    return html.escape(html.unescape(text), quote=True)


def _plain(text: str) -> str:
    escaped = _escape(text)
    escaped = _BOLD.sub(r"<b>\1</b>", escaped)
    escaped = _ITALIC.sub(r"<i>\1</i>", escaped)
    return _emoji(_STRIKE.sub(r"<s>\1</s>", escaped))


def _quotes(rendered: str) -> str:
    lines = rendered.split("\n")
    return "\n".join(
        f"<blockquote>{line[5:]}</blockquote>" if line.startswith("&gt; ") else line
        for line in lines
    )


def _token(inner: str, user_name: Namer, channel_name: Namer, group_name: Namer) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        name = label or user_name(target[1:])
        return f'<span class="mention">@{_escape(name)}</span>'
    if target.startswith("#"):
        name = label or channel_name(target[1:])
        return f'<span class="mention">#{_escape(name)}</span>'
    if target.startswith("!subteam^"):
        name = label.lstrip("@") or group_name(target.removeprefix("!subteam^"))
        return f'<span class="mention">@{_escape(name)}</span>'
    if target.startswith("!date^"):
        return _escape(label or target)
    if target.startswith("!"):
        return f'<span class="mention">@{_escape(target[1:])}</span>'
    if target.startswith(_SAFE_SCHEMES):
        url = html.escape(html.unescape(target), quote=True)
        text = _escape(label) if label else url
        return f'<a href="{url}" target="_blank" rel="noopener noreferrer">{text}</a>'
    return _escape(f"<{inner}>")
