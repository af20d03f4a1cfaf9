"""Reads what people paste as a target: a page id, a change set id, or a Confluence page link.

Page links understood (with or without /wiki, http or https, any query or #fragment):
    /wiki/spaces/KEY/pages/123456/Title          /wiki/spaces/KEY/pages/123456
    /wiki/spaces/KEY/pages/edit-v2/123456        /wiki/spaces/KEY/pages/edit/123456
    /wiki/pages/viewpage.action?pageId=123456    any path with ?pageId=123456
    /wiki/x/CODE  (a tiny link: the page id's little-endian bytes in base64, with Confluence's
                   own substitutions '+' -> '_' and '/' -> '-', trailing 'A' and '=' dropped)
Slack's link markup (<https://...|label>) is unwrapped first. Links whose page cannot be read
from the link itself (/display/KEY/Title, /l/cp/... share links) get an error asking for the
full URL.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qs, quote, unquote, urlsplit

from services.approvalflow.targets import ChangeSetTarget, PageTarget, Target
from services.errors import BlogPostLink, NotAPageLink, NoTarget, NotATarget, OtherSite, ZeroPageId

_PAGE_ID = re.compile(r"\d{1,19}")
# Change set ids are undocumented beyond the example "cs-abc123": letters, digits and - _ . :
_CHANGE_SET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_TINY_CODE = re.compile(r"[A-Za-z0-9_-]{1,11}")
_EDIT_SEGMENTS = ("edit-v2", "edit", "edit-embed")


def page_view_url(site_url: str, page_id: str) -> str:
    """The link that opens a page by its id on the site (the form every Confluence answers)."""
    return f"{site_url.rstrip('/')}/wiki/pages/viewpage.action?pageId={quote(page_id, safe='')}"


def parse_target(text: str, *, site_url: str | None = None) -> Target:
    """A change set or page from what a person typed; an InputError says what it is not.
    With `site_url`, a link must point at that site."""
    value = unwrap_slack_link(text)
    if not value:
        raise NoTarget()
    if _PAGE_ID.fullmatch(value):
        return PageTarget(page_id=_page_id(value))
    if "/" in value or "://" in value:
        return parse_page_url(value, site_url=site_url)
    if _CHANGE_SET_ID.fullmatch(value) and not value.isdigit():
        return ChangeSetTarget(change_set_id=value)
    raise NotATarget(_shown(value))


def parse_page_url(url: str, *, site_url: str | None = None) -> PageTarget:
    """The page a Confluence link points to; InputError when it names none we can read."""
    value = unwrap_slack_link(url)
    if "://" not in value:
        value = "https://" + value.lstrip("/")
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise NotAPageLink(_shown(url), readable=False) from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise NotAPageLink(_shown(url))
    if site_url:
        _check_site(host, port, site_url)

    query = parse_qs(parts.query)
    for value_ in query.get("pageId", []):
        if _PAGE_ID.fullmatch(value_.strip()):
            return PageTarget(page_id=_page_id(value_.strip()))
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if segments[:1] == ["wiki"]:
        segments = segments[1:]
    if len(segments) >= 4 and segments[0] == "spaces" and segments[2] == "pages":
        key = segments[1]
        if _PAGE_ID.fullmatch(segments[3]):
            return PageTarget(page_id=_page_id(segments[3]), space_key=key)
        if segments[3] in _EDIT_SEGMENTS and len(segments) >= 5 and _PAGE_ID.fullmatch(segments[4]):
            return PageTarget(page_id=_page_id(segments[4]), space_key=key)
    if len(segments) >= 3 and segments[0] == "spaces" and segments[2] == "blog":
        raise BlogPostLink()
    if len(segments) == 2 and segments[0] == "x":
        return PageTarget(page_id=tiny_link_page_id(segments[1]))
    raise NotAPageLink("")


def tiny_link_page_id(code: str) -> str:
    """The page id of a tiny link's code (/wiki/x/CODE)."""
    if not _TINY_CODE.fullmatch(code):
        raise NotAPageLink("")
    # Confluence swaps '+' -> '_' and '/' -> '-' (the reverse of RFC 4648's URL-safe alphabet)
    # and drops the trailing 'A's (zero bits) and '='; 8 little-endian bytes fill 11 characters.
    standard = code.replace("_", "+").replace("-", "/").ljust(11, "A") + "="
    try:
        raw = base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError):
        raise NotAPageLink("") from None
    page_id = int.from_bytes(raw, "little")
    if page_id == 0:
        raise NotAPageLink("")
    return str(page_id)


def tiny_link_code(page_id: int | str) -> str:
    """The tiny link code of a page id (what Confluence puts after /wiki/x/)."""
    encoded = base64.b64encode(int(page_id).to_bytes(8, "little")).decode("ascii")
    return encoded.replace("+", "_").replace("/", "-").rstrip("=").rstrip("A")


def unwrap_slack_link(text: str) -> str:
    """`<https://x|label>` or `<https://x>` (how Slack sends a pasted link) -> the address."""
    value = text.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].split("|", 1)[0].strip()
    return value


def _page_id(digits: str) -> str:
    page_id = str(int(digits))  # no leading zeros: ids are compared as text
    if page_id == "0":
        raise ZeroPageId()
    return page_id


def _check_site(host: str, port: int | None, site_url: str) -> None:
    site = urlsplit(site_url if "://" in site_url else "https://" + site_url)
    site_host = (site.hostname or "").lower()
    # http:// or no port is the same site (Atlassian redirects); an explicit other port is not.
    site_port = site.port or {"http": 80, "https": 443}.get(site.scheme.lower())
    if host != site_host or (port is not None and port != site_port):
        raise OtherSite(host, site_host)


def _shown(value: str) -> str:
    # Echo enough to recognise, never a whole paste.
    return value if len(value) <= 60 else value[:57] + "..."
