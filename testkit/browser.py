"""What a browser reads from the sandbox's consent page before posting the person's answer."""

from __future__ import annotations

import html
import re

_FORM = re.compile(r'<form method="post" action="([^"]*)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def consent_form(page: str) -> tuple[str, dict[str, str]]:
    """The consent form's action and hidden fields, unescaped as a browser would."""
    action = _FORM.search(page)
    if action is None:
        raise ValueError(f"no consent form on the page: {page[:200]!r}")
    fields = {html.unescape(k): html.unescape(v) for k, v in _HIDDEN.findall(page)}
    return html.unescape(action.group(1)), fields
