"""The Approval Token's Slack surfaces: every builder within Block Kit's limits, payload parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.slack.sandbox_note import noted_blocks, noted_view
from emulators.slack.blockkit_limits import message_problems, view_problems
from handlers.approval_token import CodeSubmission, EnterCodeClick
from handlers.blocks.approval_token import (
    activated_view,
    code_modal,
    connect_first_message,
    enrol_sent_message,
    enrolment_dm,
    expiry_reminder_text,
    lost_message,
    minute_up,
    token_status_blocks,
)
from services.approval_token import Condition, Enrolment, ExpiryReminder, TokenStatus

NOW = datetime(2026, 11, 23, 9, 0, 30, tzinfo=UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a placeholder base32 key, 32 characters


def enrolment() -> Enrolment:
    return Enrolment(
        user="U1",
        enrolment_id="0123456789abcdef",
        pending_until=NOW + timedelta(minutes=10),
        otpauth_uri=f"otpauth://totp/ApprovalFlow:a%40example.com?secret={SECRET}",
        setup_key=SECRET,
        qr_png=b"\x89PNG",
    )


@pytest.mark.parametrize("sandbox", [True, False])
def test_every_surface_is_within_the_limits_and_says_sandbox_when_it_is(sandbox: bool) -> None:
    longest_email = "a" * 64 + "@" + "b" * 185 + ".com"  # 254 characters, the most there is
    messages = [
        enrolment_dm(enrolment(), longest_email),
        enrol_sent_message(NOW),
        connect_first_message(),
        lost_message(),
    ]
    # In sandbox mode the outbound adapter adds the note (bot/slack/sandbox_note.py).
    for text, built in messages:
        blocks = noted_blocks(text, built) if sandbox else built
        assert message_problems(text, blocks) == []
        assert ("sandbox" in str(blocks[-1])) is sandbox
    for built_view in (code_modal("0123456789abcdef"), activated_view(NOW)):
        view = noted_view(built_view) if sandbox else built_view
        assert view_problems(view) == []
        assert ("sandbox" in str(view["blocks"][-1])) is sandbox


def test_the_key_is_shown_grouped_but_never_in_the_notification_text() -> None:
    text, blocks = enrolment_dm(enrolment(), "a@example.com")
    assert SECRET not in text and "JBSW" not in text
    assert "`JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP`" in str(blocks)
    assert "otpauth" not in str(blocks)


def test_the_code_modal_holds_only_the_enrolment_id() -> None:
    view = code_modal("0123456789abcdef")
    assert view["private_metadata"] == "0123456789abcdef"
    [field] = [b for b in view["blocks"] if b["type"] == "input"]
    assert "code" in field["label"]["text"] and field["element"]["max_length"] <= 12


@pytest.mark.parametrize("condition", list(Condition))
def test_each_status_is_one_valid_section_with_what_to_do(condition: Condition) -> None:
    status = TokenStatus(
        user="U1",
        condition=condition,
        pending_until=NOW,
        expires_at=NOW,
        locked_until=NOW,
        revoked_at=NOW,
        last_used_at=NOW,
        failures=2,
    )
    [block] = token_status_blocks(status)
    assert message_problems("status", [block]) == []
    assert block["text"]["text"].startswith("*Approval Token*: ")
    if condition is not Condition.ACTIVE:
        assert "\n" in block["text"]["text"]  # the next step is spelled out


def test_reminders_and_lock_times_read_right() -> None:
    expires = datetime(2026, 12, 23, 9, 0, tzinfo=UTC)
    assert "expires in 7 days (2026-12-23 09:00 UTC)" in expiry_reminder_text(
        ExpiryReminder("U1", expires, 7)
    )
    assert "expires tomorrow" in expiry_reminder_text(ExpiryReminder("U1", expires, 1))
    # Never a minute early: 09:15:00.001 is shown as 09:16.
    assert minute_up(datetime(2026, 11, 23, 9, 15, tzinfo=UTC)) == "2026-11-23 09:15 UTC"
    locked = datetime(2026, 11, 23, 9, 15, 0, 1000, tzinfo=UTC)
    assert minute_up(locked) == "2026-11-23 09:16 UTC"


def test_payloads_parse_without_raising_and_the_code_never_prints() -> None:
    empty = CodeSubmission.from_body({})
    assert (empty.user_id, empty.enrolment_id, empty.code) == ("", "", None)
    typed = CodeSubmission.from_body(
        {
            "user": {"id": "U1"},
            "view": {
                "private_metadata": "e" * 5000,
                "state": {"values": {"code": {"code": {"value": "492039"}}}},
            },
        }
    )
    assert typed.code == "492039" and "492039" not in repr(typed)
    assert len(typed.enrolment_id) == 64
    click = EnterCodeClick.from_body(
        {
            "user": {"id": "U1"},
            "trigger_id": "1.2.3",
            "actions": [{"action_id": "other", "value": "x"}, {"action_id": "token_enter_code"}],
        }
    )
    assert (click.user_id, click.trigger_id, click.enrolment_id) == ("U1", "1.2.3", "")
