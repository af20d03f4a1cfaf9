"""The HTML of the sandbox's consent and error pages; every value is escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from emulators.approvalflow.contract import SCOPE_TITLES
from emulators.approvalflow.models import Site, User

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;"
    "color:#172b4d}h1{font-size:1.4rem}.box{border:1px solid #dfe1e6;border-radius:6px;"
    "padding:1rem 1.25rem}.scope code{color:#5e6c84}button{font-size:1rem;padding:.5rem 1.2rem;"
    "margin-right:.5rem;border-radius:4px;border:1px solid #c1c7d0;cursor:pointer}"
    ".allow{background:#0052cc;color:#fff;border-color:#0052cc}select{font-size:1rem;width:100%}"
    ".note{color:#5e6c84;font-size:.85rem}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def consent_page(
    *,
    action: str,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    hidden: Mapping[str, str],
    users: Iterable[User],
    sites: Mapping[str, Site],
) -> str:
    """Shows what the app asks for, lets the person pick who they are, and Allow or Deny."""
    scope_items = "".join(
        f'<li class="scope">{escape(SCOPE_TITLES.get(scope, scope))} <code>{escape(scope)}</code>'
        "</li>"
        for scope in scopes
    )
    options = "".join(
        f'<option value="{escape(user.account_id)}">{escape(user.name)} '
        f"({escape(user.email)}) - grants "
        f"{escape(', '.join(sites[s].url for s in user.site_ids if s in sites) or 'no site')}"
        "</option>"
        for user in users
    )
    fields = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in hidden.items()
    )
    body = (
        "<h1>ApprovalFlow sandbox: authorize access</h1>"
        f'<div class="box"><p>The app <code>{escape(client_id)}</code> asks to:</p>'
        f"<ul>{scope_items}</ul>"
        f'<p class="note">You will be sent back to {escape(redirect_uri)}</p></div>'
        f'<form method="post" action="{escape(action)}">{fields}'
        '<p><label for="account_id">Sign in as (sandbox accounts):</label><br>'
        f'<select id="account_id" name="account_id">{options}</select></p>'
        '<button class="allow" type="submit" name="decision" value="allow">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></form>'
        '<p class="note">This is the built-in sandbox, not Atlassian. No real account is used.</p>'
    )
    return _page("Authorize access - ApprovalFlow sandbox", body)


def error_page(message: str) -> str:
    body = (
        "<h1>Something is wrong with this request</h1>"
        f'<div class="box"><p>{escape(message)}</p></div>'
        '<p class="note">ApprovalFlow sandbox (emulating auth.atlassian.com)</p>'
    )
    return _page("Authorization error - ApprovalFlow sandbox", body)
