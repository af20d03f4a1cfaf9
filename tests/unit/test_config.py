"""The configuration contract: defaults, one message naming every problem, secrets hidden."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from services.errors import ConfigError
from services.secretbox import new_key

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "sig", "ENCRYPTION_KEYS": new_key()}


def test_defaults_of_section_5() -> None:
    s = load_settings(dict(BASE))
    assert s.SLACK_API_URL == "https://slack.com/api/"
    assert s.ATLASSIAN_AUTH_URL == "https://auth.atlassian.com"
    assert s.ATLASSIAN_API_URL == "https://api.atlassian.com"
    assert s.REDIS_URL is None and s.REDIS_PREFIX == "approvals:"
    assert str(s.DATA_DIR) == ".data"
    assert (s.TOKEN_VALIDITY_DAYS, s.TOTP_MAX_FAILURES, s.TOTP_LOCKOUT_MINUTES) == (30, 5, 15)
    assert (s.ALLOW_SELF_APPROVAL, s.REQUIRE_EMAIL_MATCH) == (False, True)
    assert (s.POLL_INTERVAL_SECONDS, s.REQUEST_TTL_HOURS, s.REMINDER_HOURS) == (60, 72, 24)
    assert (s.LOG_LEVEL, s.PORT) == ("INFO", 3000)
    assert s.ADMIN_USER_IDS == [] and not s.live
    assert s.redirect_uri == "http://localhost:3000/atlassian/callback"


def test_every_missing_value_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({})
    message = str(caught.value)
    assert "ENCRYPTION_KEYS: missing" in message
    # Without Slack credentials the bot serves the playground: they are not missing.
    assert "SLACK_BOT_TOKEN" not in message and "SLACK_SIGNING_SECRET" not in message


def test_no_slack_credentials_is_the_playground_and_half_of_them_is_an_error() -> None:
    keys = {"ENCRYPTION_KEYS": BASE["ENCRYPTION_KEYS"]}
    assert load_settings(keys).playground
    assert not load_settings(BASE).playground
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        with pytest.raises(ConfigError) as caught:
            load_settings({**keys, name: BASE[name]})
        assert "set both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in str(caught.value)
        assert BASE[name] not in str(caught.value)


def test_malformed_values_are_named_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                **BASE,
                "ENCRYPTION_KEYS": "not-a-key-SECRETISH",
                "PORT": "eighty",
                "LOG_LEVEL": "LOUD",
                "TOTP_MAX_FAILURES": "0",
            }
        )
    message = str(caught.value)
    for name in ("ENCRYPTION_KEYS", "PORT", "LOG_LEVEL", "TOTP_MAX_FAILURES"):
        assert name in message
    assert "SECRETISH" not in message


def test_live_mode_needs_its_settings() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "ATLASSIAN_CLIENT_ID": "abc"})
    for name in (
        "ATLASSIAN_CLIENT_SECRET",
        "CONFLUENCE_SITE_URL",
        "APPROVALFLOW_APP_ID",
        "APPROVALFLOW_ENV_ID",
    ):
        assert name in str(caught.value)


def test_lists_and_key_rotation() -> None:
    first, second = new_key(), new_key()
    s = load_settings(
        {**BASE, "ADMIN_USER_IDS": "U1, U2,,", "ENCRYPTION_KEYS": f"{first},{second}"}
    )
    assert s.ADMIN_USER_IDS == ["U1", "U2"]
    assert s.encryption_keys == [first, second]


def test_secrets_never_print() -> None:
    s = load_settings(
        {**BASE, "SLACK_BOT_TOKEN": "xoxb-very-secret", "REDIS_URL": "redis://:pw-secret@h:1/0"}
    )
    shown = repr(s) + str(s) + s.model_dump_json()
    assert (
        "xoxb-very-secret" not in shown
        and "pw-secret" not in shown
        and BASE["ENCRYPTION_KEYS"] not in shown
    )
