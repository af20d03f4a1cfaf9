"""The hand-written TOTP in testkit/rfc6238.py against the RFCs' own test vectors."""

from __future__ import annotations

import pytest

from testkit.rfc6238 import hotp, key_from_base32, parse_otpauth, totp

SEED = b"12345678901234567890"  # RFC 6238 Appendix B, SHA1 seed (20 bytes)


@pytest.mark.parametrize(
    ("unix_time", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_appendix_b_sha1(unix_time: int, expected: str) -> None:
    assert totp(SEED, unix_time, digits=8) == expected


def test_rfc4226_appendix_d() -> None:
    expected = [
        "755224", "287082", "359152", "969429", "338314",
        "254676", "287922", "162583", "399871", "520489",
    ]  # fmt: skip
    assert [hotp(SEED, counter) for counter in range(10)] == expected


def test_base32_without_padding() -> None:
    assert key_from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") == SEED


def test_parse_otpauth() -> None:
    label, secret, params = parse_otpauth(
        "otpauth://totp/ApprovalFlow:ada%2Bqa@example.com?secret=ABC&issuer=ApprovalFlow"
    )
    assert (label, secret, params["issuer"]) == (
        "ApprovalFlow:ada+qa@example.com",
        "ABC",
        "ApprovalFlow",
    )
