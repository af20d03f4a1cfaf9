"""Pure TOTP (RFC 6238, SHA1 / 6 digits / 30 s): secrets, otpauth URIs, QR images, code checks."""

from __future__ import annotations

import base64
import hmac
import io
import re
import secrets
from datetime import datetime
from urllib.parse import quote

import segno

from services.errors import CodeFormatError

ISSUER = "ApprovalFlow"
DIGITS = 6
STEP_SECONDS = 30
SECRET_BYTES = 20  # 160 bits: the SHA-1 HMAC length (RFC 4226 R6, RFC 6238 §5.1)
WINDOW = 1  # one step either side for network delay and clock skew (RFC 6238 §5.2)

# Longest input worth looking at: "1 2 3 4 5 6" with generous spacing. Anything longer cannot be
# a code, so we refuse it before doing any work on it (a 10 kB paste costs nothing).
_MAX_RAW_LENGTH = 64
# [0-9], not \d: \d also matches Arabic-Indic, fullwidth and other Unicode digits.
_CODE = re.compile(r"[0-9]{6}", re.ASCII)


def new_secret() -> str:
    """A fresh 160-bit secret from the OS CSPRNG, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def otpauth_uri(secret: str, email: str) -> str:
    """The Key URI authenticator apps import; issuer in both label and parameter, defaults only."""
    # Quote each label part on its own so a ':' or '?' in the account cannot change the
    # structure; '@' stays readable as Google's own examples show it.
    label = f"{quote(ISSUER, safe='')}:{quote(email, safe='@')}"
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(ISSUER, safe='')}"


def qr_png(uri: str) -> bytes:
    """The URI as a QR code PNG: large modules and the standard quiet zone for easy scanning."""
    buffer = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def time_step(when: datetime) -> int:
    """The RFC 6238 time step T for a moment (T0 = Unix epoch)."""
    return int(when.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The 6-digit code for a secret at a time step."""
    return _hotp(_key(secret), step)


def _key(secret: str) -> bytes:
    """The raw key of a base32 secret, padding optional (otpauth URIs carry none)."""
    return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)


def _hotp(key: bytes, counter: int) -> str:
    """RFC 4226 §5.3: HMAC-SHA1 of the 8-byte big-endian counter, dynamic truncation.

    By hand on hashlib's C HMAC: a general TOTP object per candidate step cost about four
    times as much, three times per signature."""
    mac = hmac.digest(key, counter.to_bytes(8, "big"), "sha1")
    offset = mac[-1] & 0x0F
    binary = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(binary % 10**DIGITS).zfill(DIGITS)


def normalise_code(raw: object) -> str:
    """The 6 ASCII digits of what the user typed, spaces removed; CodeFormatError otherwise."""
    if not isinstance(raw, str) or len(raw) > _MAX_RAW_LENGTH:
        raise CodeFormatError()
    # str.split() with no separator drops every Unicode space, so "123 456" and a pasted
    # "123\u00a0456" both work; the match below then refuses any non-ASCII digit.
    compact = "".join(raw.split())
    if _CODE.fullmatch(compact) is None:
        raise CodeFormatError()
    return compact


def match_step(secret: str, code: str, current_step: int) -> int | None:
    """The time step in current-1 .. current+1 whose code equals `code`, or None.

    Every candidate is computed and compared with `hmac.compare_digest`, without stopping at
    the first match, so the time taken says nothing about which step (or which digit) matched.
    If two steps share the code (about 3 in a million) the later one is returned: accepting
    the later step only makes the user wait a little for the next code, never lets a used one
    through again.
    """
    matched: int | None = None
    given = code.encode("ascii")
    key = _key(secret)
    for step in range(current_step - WINDOW, current_step + WINDOW + 1):
        if hmac.compare_digest(_hotp(key, step).encode("ascii"), given):
            matched = step
    return matched
