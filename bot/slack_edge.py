"""The edge in front of Bolt on POST /slack/events: body size, signature, body shape, retries.

Bolt decides how to read a body from its raw text (slack_bolt/request/internals.py,
`parse_body`): a body that starts with "{" is JSON, and a form body in which the word "payload"
appears *anywhere* is read as an interaction and only its `payload=` field is kept. A slash
command whose text, channel name or user name holds the word (`/approvals request payload docs`)
therefore reaches Bolt as an empty body, and Bolt answers 404 "unhandled request". This edge
verifies Slack's signature itself (on the bytes Slack signed), then re-encodes such a form body
so that the word no longer appears literally (`p%61yload` decodes to the same text), and hands
Bolt the equivalent body with Bolt's own signature check turned off (it would fail on the
re-encoded text). Nothing of Bolt is patched, and a Bolt upgrade that fixes its parsing changes
nothing here.

Also here: bodies larger than Slack ever sends are refused with 413 before they are read in
full, and an event Slack delivers again (`X-Slack-Retry-Num`) after we took it is acked without
being handled twice.
"""

from __future__ import annotations

import binascii
import json
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode

from slack_sdk.signature import SignatureVerifier
from starlette.requests import ClientDisconnect, Request

from services.ports import Leases

log = logging.getLogger(__name__)

# Slack's largest bodies (a modal's state, a message action on a long message) stay well under
# this; anything bigger did not come from Slack and is refused unread.
MAX_BODY_BYTES = 1_000_000
# Slack retries an event up to three times within about an hour; a claim lives longer.
EVENT_CLAIM_SECONDS = 2 * 3600
_FORM = "application/x-www-form-urlencoded"
_WORD = "payload"


class BodyTooLarge(Exception):
    """The body is larger than MAX_BODY_BYTES (by its Content-Length or as it streamed in)."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or BodyTooLarge as soon as it passes `limit` (never read to its end)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    except ClientDisconnect:
        pass
    return b"".join(chunks)


def bolt_form_body(text: str) -> str:
    """A form body as Bolt reads it correctly: unchanged unless Bolt would misread it (it
    contains the word "payload" without being an interaction, or starts with "{"); then the
    same fields, re-encoded with the word's "a" percent-encoded."""
    if _WORD in field_names(text):
        return text  # an interaction: Bolt reads its `payload` field, as it should
    if _WORD not in text and not text.startswith("{"):
        return text
    fields = parse_qsl(text, keep_blank_values=True)
    encoded = urlencode(fields, quote_via=quote)  # "{" and every other symbol as %XX
    # After urlencode a "p" is always a literal letter, so this never splits an escape.
    return encoded.replace(_WORD, "p%61yload")


def field_names(text: str) -> set[str]:
    """The form's field names as parse_qsl decodes them, values left undecoded: an
    interaction's one value is a whole view or message, and Bolt decodes it anyway (percent
    decoding is pure Python: doing it here too cost about 0.3 ms a modal submission)."""
    return {unquote_plus(pair.partition("=")[0]) for pair in text.split("&") if pair}


def interaction_json(text: str) -> str | None:
    """An interaction's one field, `payload`, decoded: the JSON object Bolt parses out of it
    (Bolt reads a body that starts with "{" as JSON). None for any other form: Bolt reads it
    as before. Bolt's own parse_qsl decodes in pure Python, about 0.1 ms a modal submission."""
    name, equals, value = text.partition("=")
    if name != _WORD or not equals or "&" in value:
        return None
    decoded = form_unquote(value)
    return decoded if decoded.startswith("{") else None


def form_unquote(value: str) -> str:
    """`unquote_plus(value)`, decoded in C where that gives the same text: with "%" read as
    "=", a percent-encoded value is quoted-printable, which binascii decodes, as long as the
    value is ASCII with no "=" or line break of its own and every "%" starts an escape."""
    if not value.isascii() or "=" in value or "\n" in value or "\r" in value:
        return unquote_plus(value)
    quoted = value.replace("+", " ").replace("%", "=")
    decoded = binascii.a2b_qp(quoted)
    # An escape shortens the text by two, a "%" that starts none by less: this length holds
    # only when every one was an escape (a regular expression looking for the others took
    # 10-80 µs on a modal's payload).
    if len(decoded) != len(quoted) - 2 * quoted.count("="):
        return unquote_plus(value)
    return decoded.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class EdgeVerdict:
    """What the edge decided: a status to answer at once, or the body to hand to Bolt."""

    status: int | None
    body: str = ""


class SlackEdge:
    """Checks a POST /slack/events request before Bolt sees it."""

    def __init__(self, signing_secret: str, leases: Leases) -> None:
        self._verifier = SignatureVerifier(signing_secret)
        self._leases = leases

    async def admit(self, request: Request) -> EdgeVerdict:
        try:
            raw = await read_body(request)
        except BodyTooLarge:
            log.warning("slack request refused: body too large", extra={"limit": MAX_BODY_BYTES})
            return EdgeVerdict(413)
        if not self._verifier.is_valid_request(raw, dict(request.headers)):
            return EdgeVerdict(401)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return EdgeVerdict(400)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == _FORM:
            return EdgeVerdict(None, interaction_json(text) or bolt_form_body(text))
        if await self._is_repeat(request, text):
            return EdgeVerdict(200)
        return EdgeVerdict(None, text)

    async def _is_repeat(self, request: Request, text: str) -> bool:
        """True for an event Slack delivers again after this bot already took it."""
        try:
            event_id = json.loads(text).get("event_id")
        except (ValueError, AttributeError):
            return False
        if not isinstance(event_id, str) or not event_id:
            return False
        taken = await self._leases.acquire(
            f"slack-event:{event_id[:64]}", secrets.token_hex(8), EVENT_CLAIM_SECONDS
        )
        if not taken:
            log.info(
                "slack event retry ignored: already handled",
                extra={
                    "event_id": event_id[:64],
                    "retry_num": request.headers.get("x-slack-retry-num"),
                    "retry_reason": request.headers.get("x-slack-retry-reason"),
                },
            )
        return not taken
