"""Approval Token surfaces: the enrolment DM, the code modal, enroll/lost replies, status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers.blocks.common import Block, context, plain, section
from handlers.blocks.phrases import utc
from handlers.messages import (
    ACTIVATED_CLEANUP,
    ACTIVATED_MODAL_CLOSE,
    ACTIVATED_TEXT,
    CODE_HINT,
    CODE_LABEL,
    CODE_MODAL_CLOSE,
    CODE_MODAL_SUBMIT,
    CODE_MODAL_TEXT,
    CODE_MODAL_TITLE,
    CODE_PLACEHOLDER,
    ENROL_CONNECT_BUTTON,
    ENROL_DM_ACCOUNT,
    ENROL_DM_FALLBACK,
    ENROL_DM_INTRO,
    ENROL_DM_KEY,
    ENROL_DM_NOTE,
    ENROL_DM_STEP,
    ENROL_NEEDS_LINK,
    ENROL_SENT,
    ENROLMENT_STATUS,
    ENROLMENT_STATUS_NEXT,
    ENTER_CODE_BUTTON,
    EXPIRY_REMINDER_DM,
    LOST_DONE,
)
from services.approval_token import Condition, Enrolment, ExpiryReminder, TokenStatus

ENTER_CODE_ACTION = "token_enter_code"
CONNECT_FIRST_ACTION = "token_connect_first"
CODE_MODAL = "token_activate"
CODE_BLOCK = "code"  # the input block errors are shown under
CODE_INPUT = "code"
# Room for "123 456" with stray spaces; the service refuses anything that is not 6 digits.
CODE_MAX_LENGTH = 12


def minute_up(when: datetime) -> str:
    """A time rounded up to the minute, so "try again after" is never a minute early."""
    return utc(when + timedelta(seconds=59, microseconds=999_999))


def enrolment_dm(enrolment: Enrolment, label: str) -> tuple[str, list[Block]]:
    """The message under the QR image: the setup key, the Enter code button, the deadline.

    The fallback text leaves the key out: it is what notifications and lock screens show."""
    blocks = [
        section(ENROL_DM_INTRO),
        section(ENROL_DM_KEY.format(key=enrolment.setup_key_grouped)),
        context(ENROL_DM_ACCOUNT.format(label=label)),
        section(ENROL_DM_STEP),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ENTER_CODE_ACTION,
                    "text": plain(ENTER_CODE_BUTTON),
                    "value": enrolment.enrolment_id,
                    "style": "primary",
                }
            ],
        },
        context(ENROL_DM_NOTE.format(until=utc(enrolment.pending_until))),
    ]
    return ENROL_DM_FALLBACK, blocks


def code_modal(enrolment_id: str) -> dict[str, Any]:
    """One input labelled "code"; private_metadata is the enrolment id and nothing else."""
    blocks: list[Block] = [
        section(CODE_MODAL_TEXT),
        {
            "type": "input",
            "block_id": CODE_BLOCK,
            "label": plain(CODE_LABEL),
            "hint": plain(CODE_HINT),
            "element": {
                "type": "plain_text_input",
                "action_id": CODE_INPUT,
                "placeholder": plain(CODE_PLACEHOLDER),
                "max_length": CODE_MAX_LENGTH,
                "focus_on_load": True,
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": CODE_MODAL,
        "title": plain(CODE_MODAL_TITLE),
        "submit": plain(CODE_MODAL_SUBMIT),
        "close": plain(CODE_MODAL_CLOSE),
        "private_metadata": enrolment_id,
        "blocks": blocks,
    }


def activated_view(expires_at: datetime) -> dict[str, Any]:
    """What the modal turns into once the code was accepted."""
    blocks = [section(ACTIVATED_TEXT.format(until=utc(expires_at))), context(ACTIVATED_CLEANUP)]
    return {
        "type": "modal",
        "callback_id": CODE_MODAL,
        "title": plain(CODE_MODAL_TITLE),
        "close": plain(ACTIVATED_MODAL_CLOSE),
        "blocks": blocks,
    }


def enrol_sent_message(pending_until: datetime) -> tuple[str, list[Block]]:
    text = ENROL_SENT.format(until=utc(pending_until))
    return text, [section(text)]


def connect_first_message() -> tuple[str, list[Block]]:
    blocks = [
        section(ENROL_NEEDS_LINK),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": CONNECT_FIRST_ACTION,
                    "text": plain(ENROL_CONNECT_BUTTON),
                    "style": "primary",
                }
            ],
        },
    ]
    return ENROL_NEEDS_LINK, blocks


def notice_message(text: str) -> tuple[str, list[Block]]:
    """A one-paragraph ephemeral reply (lost, an enrolment that vanished ...)."""
    return text, [section(text)]


def lost_message() -> tuple[str, list[Block]]:
    return notice_message(LOST_DONE)


def expiry_reminder_text(reminder: ExpiryReminder) -> str:
    when = "tomorrow" if reminder.days_before == 1 else f"in {reminder.days_before} days"
    return EXPIRY_REMINDER_DM.format(when=when, until=utc(reminder.expires_at))


def token_status_line(status: TokenStatus) -> str:
    """One line: the condition with its date, last use and failed attempts."""
    match status.condition:
        case Condition.ACTIVE if status.expires_at is not None:
            head = f"active until {utc(status.expires_at)}"
        case Condition.EXPIRED if status.expires_at is not None:
            head = f"expired on {utc(status.expires_at)}"
        case Condition.LOCKED if status.locked_until is not None:
            head = f"locked until {utc(status.locked_until)}"
        case Condition.PENDING if status.pending_until is not None:
            head = f"pending: confirm it with a code before {utc(status.pending_until)}"
        case Condition.REVOKED if status.revoked_at is not None:
            head = f"revoked on {utc(status.revoked_at)}"
        case _:
            head = str(status.condition)
    if status.condition in (Condition.NOT_ENROLLED, Condition.PENDING):
        return head
    used = utc(status.last_used_at) if status.last_used_at else "never"
    return f"{head} · last used {used} · failed attempts {status.failures}"


def token_status_blocks(status: TokenStatus) -> list[Block]:
    """The Approval Token's section of /approvals status."""
    text = ENROLMENT_STATUS.format(describe=token_status_line(status))
    next_step = ENROLMENT_STATUS_NEXT.get(status.condition.value)
    return [section(f"{text}\n{next_step}" if next_step else text)]
