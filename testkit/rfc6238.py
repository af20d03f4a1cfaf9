"""RFC 6238 TOTP by hand (HOTP dynamic truncation per RFC 4226 §5.3), independent of pyotp."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def hotp(
    key: bytes, counter: int, digits: int = 6, digest: Callable[..., Any] = hashlib.sha1
) -> str:
    """RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), digest).digest()
    offset = mac[-1] & 0x0F
    binary = (
        (mac[offset] & 0x7F) << 24 | mac[offset + 1] << 16 | mac[offset + 2] << 8 | mac[offset + 3]
    )
    return str(binary % 10**digits).zfill(digits)


def totp(key: bytes, unix_time: int, step: int = 30, t0: int = 0, digits: int = 6) -> str:
    """RFC 6238 §4: T = floor((time - T0) / X), then HOTP(K, T)."""
    return hotp(key, (unix_time - t0) // step, digits)


def key_from_base32(secret: str) -> bytes:
    """The raw key of a base32 secret given without padding (as in otpauth URIs)."""
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def code_for_step(secret: str, step: int) -> str:
    """The 6-digit code of a base32 secret at a time step."""
    return hotp(key_from_base32(secret), step)


def parse_otpauth(uri: str) -> tuple[str, str, dict[str, str]]:
    """(label, base32 secret, parameters) of an otpauth://totp/ URI."""
    parts = urlsplit(uri)
    if parts.scheme != "otpauth" or parts.netloc != "totp":
        raise ValueError("not an otpauth://totp/ URI")
    params = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return unquote(parts.path.lstrip("/")), params["secret"], params
