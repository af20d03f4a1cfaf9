"""Log lines are JSON and never carry a token, a secret or an otpauth URI."""

from __future__ import annotations

import io
import json
import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import OWN_LEVEL_LOGGERS, JsonFormatter, configure_logging, scrub
from emulators.slack import FakeSlack


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


class _Probe(str):
    """A parameter that counts how often a log line is built around it."""

    built: list[int] = []  # noqa: RUF012 - one shared counter is the point

    def __repr__(self) -> str:
        self.built.append(1)
        return str.__repr__(self)


async def test_web_api_calls_build_no_debug_lines_above_debug(fake_slack: FakeSlack) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in OWN_LEVEL_LOGGERS}
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url)
    try:
        configure_logging("WARNING", io.StringIO())
        await client.api_call("auth.test", params={"probe": _Probe("x")})
        assert _Probe.built == []
        # The same call at DEBUG does build them: the probe can see it.
        configure_logging("DEBUG", io.StringIO())
        await client.api_call("auth.test", params={"probe": _Probe("x")})
        assert _Probe.built
    finally:
        root.handlers[:], level, levels = saved
        root.setLevel(level)
        for name, own in levels.items():
            logging.getLogger(name).setLevel(own)
