"""Plain HTML pages the person's browser sees (the Atlassian callback); every value escaped."""

from __future__ import annotations

from html import escape

from handlers.messages import LINK_PAGE_CLOSE, SANDBOX_NOTE

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d1c1d;line-height:1.45}h1{font-size:1.35rem}.note{color:#616061;font-size:.85rem}"
)
# The page needs nothing from anywhere: no scripts, no images, no framing, no referrer.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def result_page(title: str, text: str, *, sandbox: bool) -> str:
    note = f'<p class="note">{escape(SANDBOX_NOTE)}</p>' if sandbox else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p><p>{escape(LINK_PAGE_CLOSE)}</p>{note}"
        "</body></html>"
    )
