"""Log lines are JSON and never carry a token, a secret or an otpauth URI."""

from __future__ import annotations

import json
import logging

from bot.logging_setup import JsonFormatter, scrub


def test_scrub_removes_secret_shapes() -> None:
    line = (
        "xoxb-123-456-abcdef Bearer eyJhbGciOi.payload.sig refresh_token=rt-abc&code=123456 "
        '"client_secret": "cs-1" otpauth://totp/ApprovalFlow:a@b?secret=JBSWY3DP'
    )
    cleaned = scrub(line)
    for secret in ("xoxb-123", "eyJhbGciOi", "rt-abc", "123456", "cs-1", "JBSWY3DP", "otpauth://"):
        assert secret not in cleaned


def test_json_lines_with_extras() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.user = "U1"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hello world" and entry["user"] == "U1" and entry["level"] == "INFO"
    assert entry["time"].endswith("Z")
