"""Approval Token service: enrolment, window, replay, lockout, expiry, input, audit, secrecy.

Codes are computed with testkit/rfc6238.py (RFC 6238 by hand), never with pyotp, so the production
code is checked against an independent implementation. Each behaviour runs on the in-memory store
and on the Redis adapter against a real redis-server.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.stores.approval_token import RedisTokenStore
from bot.stores.keys import Keys
from handlers.blocks.approval_token import token_status_line
from services.approval_token import ApprovalTokens, Condition, QrMessage
from services.approval_token.ports import NewEnrolment, TokenStore
from services.approval_token.totp import (
    code_at,
    match_step,
    new_secret,
    normalise_code,
    otpauth_uri,
    qr_png,
)
from services.audit.events import Actor, AuditEvent
from services.audit.trail import check_details
from services.errors import (
    CodeFormatError,
    CodeReused,
    InputError,
    NoPendingEnrolment,
    NotFound,
    TokenExpired,
    TokenLocked,
    TokenNotEnrolled,
    TokenPending,
    TokenRevoked,
    WrongCode,
)
from services.secretbox import SecretBox, new_key
from testkit.rfc6238 import code_for_step, key_from_base32, parse_otpauth
from tests.fakes.approval_token_store import MemoryTokenStore
from tests.fakes.clock import FakeClock
from tests.qr import decode_qr_png
from tests.refused import refused, said

EMAIL = "ada.lovelace@example.com"
ADMIN = Actor(slack_id="UADMIN", name="Admin")


class RecordingAuditor:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        check_details(event.details)  # the real trail refuses secret-looking details the same way
        self.events.append(event)

    def actions(self) -> list[str]:
        return [e.action for e in self.events]


class RecordingAlerts:
    def __init__(self) -> None:
        self.locked: list[tuple[str, datetime]] = []

    async def user_locked(self, user: str, until: datetime) -> None:
        self.locked.append((user, until))


@dataclass
class Harness:
    tokens: ApprovalTokens
    store: TokenStore
    clock: FakeClock
    box: SecretBox
    audit: RecordingAuditor
    alerts: RecordingAlerts
    redis: Redis | None
    codes_seen: set[str] = field(default_factory=set)

    def step(self) -> int:
        return int(self.clock.now().timestamp()) // 30

    def code(self, secret: str, offset: int = 0) -> str:
        code = code_for_step(secret, self.step() + offset)
        self.codes_seen.add(code)
        return code

    def wrong_code(self, secret: str) -> str:
        near = {code_for_step(secret, self.step() + d) for d in (-1, 0, 1)}
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)

    async def enrol(self, user: str = "U1") -> str:
        enrolment = await self.tokens.start_enrolment(user, EMAIL)
        return enrolment.setup_key

    async def active(self, user: str = "U1") -> str:
        secret = await self.enrol(user)
        await self.tokens.activate(user, self.code(secret))
        return secret


@pytest.fixture(params=["memory", "redis"])
def h(request: pytest.FixtureRequest, clock: FakeClock) -> Harness:
    if request.param == "redis":
        return make_harness(clock, request.getfixturevalue("redis"))
    return make_harness(clock, None)


@pytest.fixture
def hr(redis: Redis, clock: FakeClock) -> Harness:
    """The harness on the Redis adapter only, for what is about Redis itself."""
    return make_harness(clock, redis)


def make_harness(clock: FakeClock, redis: Redis | None) -> Harness:
    store: TokenStore = (
        MemoryTokenStore() if redis is None else RedisTokenStore(redis, Keys("test:"))
    )
    box = SecretBox([new_key()])
    audit, alerts = RecordingAuditor(), RecordingAlerts()
    tokens = ApprovalTokens(
        store=store,
        box=box,
        clock=clock,
        auditor=audit,
        alerts=alerts,
        validity_days=30,
        max_failures=5,
        lockout_minutes=15,
    )
    return Harness(tokens, store, clock, box, audit, alerts, redis)


# -- pure TOTP --------------------------------------------------------------------------------


def test_secret_is_160_bits_base32_without_padding() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(key_from_base32(secret)) == 20


def test_otpauth_uri_has_only_the_defaults() -> None:
    assert otpauth_uri("JBSWY3DPEHPK3PXP", "ada@example.com") == (
        "otpauth://totp/ApprovalFlow:ada@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ApprovalFlow"
    )


def test_otpauth_label_is_quoted() -> None:
    uri = otpauth_uri("JBSWY3DPEHPK3PXP", "o'brien+qa:x?y@example.com")
    label, secret, params = parse_otpauth(uri)
    assert label == "ApprovalFlow:o'brien+qa:x?y@example.com"
    assert (secret, params) == ("JBSWY3DPEHPK3PXP", {"secret": secret, "issuer": "ApprovalFlow"})


@pytest.mark.parametrize("email", [EMAIL, "o'brien+qa@example.co.uk"])
def test_qr_png_decodes_to_the_exact_uri(email: str) -> None:
    uri = otpauth_uri(new_secret(), email)
    png = qr_png(uri)
    assert png.startswith(b"\x89PNG")
    assert decode_qr_png(png) == uri


def test_production_codes_match_rfc6238_by_hand() -> None:
    for _ in range(20):
        secret = new_secret()
        for step in (0, 1, 59_000_000, 66_666_666):
            assert code_at(secret, step) == code_for_step(secret, step)


def test_production_codes_match_rfc4226_appendix_d() -> None:
    seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of b"12345678901234567890", unpadded
    expected = [
        "755224", "287082", "359152", "969429", "338314",
        "254676", "287922", "162583", "399871", "520489",
    ]  # fmt: skip
    assert [code_at(seed, counter) for counter in range(10)] == expected
    assert [code_at(seed.lower(), counter) for counter in range(10)] == expected


def test_match_step_reports_which_step() -> None:
    secret, now = new_secret(), 59_000_000
    for offset in (-1, 0, 1):
        assert match_step(secret, code_for_step(secret, now + offset), now) == now + offset
    for offset in (-2, 2):
        code = code_for_step(secret, now + offset)
        near = {code_for_step(secret, now + d) for d in (-1, 0, 1)}
        if code not in near:
            assert match_step(secret, code, now) is None


MALFORMED = [
    "",
    "   ",
    "12345",
    "1234567",
    "abcdef",
    "12345a",
    "12-34-56",
    "١٢٣٤٥٦",  # Arabic-Indic digits
    "۱۲۳۴۵۶",  # Extended Arabic-Indic digits
    "１２３４５６",  # fullwidth digits
    "12３456",
    "123456\x00",
    "x" * 10240,
    "1" * 10240,
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_normalise_refuses(raw: str) -> None:
    with pytest.raises(CodeFormatError):
        normalise_code(raw)


@pytest.mark.parametrize(
    "raw", ["123456", " 123456 ", "123 456", "12 34 56", "123\u00a0456", "123\t456\n"]
)
def test_normalise_strips_spaces(raw: str) -> None:
    assert normalise_code(raw) == "123456"


def test_normalise_refuses_non_text() -> None:
    with pytest.raises(CodeFormatError):
        normalise_code(None)
    with pytest.raises(CodeFormatError):
        normalise_code(123456)


@given(st.text())
def test_normalise_only_ever_gives_six_ascii_digits_or_a_format_error(raw: str) -> None:
    try:
        code = normalise_code(raw)
    except CodeFormatError:
        return
    assert re.fullmatch(r"[0-9]{6}", code, re.ASCII)


# -- enrolment ---------------------------------------------------------------------------------


async def test_enrolment_end_to_end_through_the_qr_image(h: Harness) -> None:
    enrolment = await h.tokens.start_enrolment("U1", EMAIL)
    assert enrolment.pending_until == h.clock.now() + timedelta(minutes=10)
    uri = decode_qr_png(enrolment.qr_png)
    assert uri == enrolment.otpauth_uri
    label, secret, params = parse_otpauth(uri)
    assert label == f"ApprovalFlow:{EMAIL}"
    assert params == {"secret": secret, "issuer": "ApprovalFlow"}
    assert secret == enrolment.setup_key
    assert enrolment.setup_key_grouped.replace(" ", "") == secret
    assert (await h.tokens.status("U1")).condition is Condition.PENDING

    qr = QrMessage(channel="D1", ts="1.2", file_id="F1")
    assert await h.tokens.record_qr_message("U1", enrolment.enrolment_id, qr)
    with pytest.raises(TokenPending):
        await h.tokens.verify_for_signature("U1", h.code(secret))
    activation = await h.tokens.activate("U1", h.code(secret), enrolment.enrolment_id)
    assert activation.qr == qr, "the DM that carried the secret is handed back for deletion"
    assert activation.expires_at == h.clock.now() + timedelta(days=30)
    status = await h.tokens.status("U1")
    assert status.condition is Condition.ACTIVE
    assert status.last_used_at == h.clock.now()
    assert h.audit.actions() == [
        "token.enrol.started",
        "token.verify.refused",
        "token.enrol.activated",
    ]


async def test_enrolment_repr_hides_the_secret(h: Harness) -> None:
    enrolment = await h.tokens.start_enrolment("U1", EMAIL)
    text = repr(enrolment) + str(enrolment)
    assert enrolment.setup_key not in text
    assert "otpauth" not in text


async def test_reenrolment_invalidates_the_old_secret(h: Harness) -> None:
    old = await h.active()
    h.clock.advance(seconds=60)
    first = await h.tokens.start_enrolment("U1", EMAIL)
    await h.tokens.record_qr_message("U1", first.enrolment_id, QrMessage("D1", "1.1"))
    with pytest.raises(TokenPending):  # the old token stopped working at once
        await h.tokens.verify_for_signature("U1", h.code(old))
    second = await h.tokens.start_enrolment("U1", EMAIL)
    assert second.replaced_qr == QrMessage("D1", "1.1"), "the superseded QR DM is to be deleted"
    assert not await h.tokens.record_qr_message("U1", first.enrolment_id, QrMessage("D1", "1.3"))
    new = second.setup_key
    assert new not in (old, first.setup_key)
    with pytest.raises(NoPendingEnrolment):  # a modal from the first DM
        await h.tokens.activate("U1", h.code(first.setup_key), first.enrolment_id)
    with pytest.raises(WrongCode):
        await h.tokens.activate("U1", h.code(old))
    await h.tokens.activate("U1", h.code(new))
    h.clock.advance(seconds=30)
    with pytest.raises(WrongCode):
        await h.tokens.verify_for_signature("U1", h.code(old))
    await h.tokens.verify_for_signature("U1", h.code(new))


async def test_unconfirmed_enrolment_expires_after_10_minutes(h: Harness) -> None:
    enrolment = await h.tokens.start_enrolment("U1", EMAIL)
    qr = QrMessage("D1", "1.1", "F1")
    await h.tokens.record_qr_message("U1", enrolment.enrolment_id, qr)
    h.clock.advance(minutes=10)
    with refused(NoPendingEnrolment, match="expired"):
        await h.tokens.activate("U1", h.code(enrolment.setup_key))
    assert (await h.tokens.status("U1")).condition is Condition.NOT_ENROLLED
    expired = await h.tokens.expire_pending(h.clock.now())
    assert [(e.user, e.qr) for e in expired] == [("U1", qr)]
    assert await h.tokens.expire_pending(h.clock.now()) == []
    with pytest.raises(TokenNotEnrolled):
        await h.tokens.verify_for_signature("U1", "123456")
    assert h.audit.actions()[-2] == "token.enrol.expired"


async def test_activation_twice_is_refused(h: Harness) -> None:
    secret = await h.active()
    h.clock.advance(seconds=30)
    with refused(NoPendingEnrolment, match="already active"):
        await h.tokens.activate("U1", h.code(secret))


# -- the verification window and replay --------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
async def test_window_edges(h: Harness, offset: int, accepted: bool) -> None:
    secret = await h.active()
    h.clock.advance(seconds=300)
    code = h.code(secret, offset)
    near = {h.code(secret, d) for d in (-1, 0, 1)}
    if accepted:
        await h.tokens.verify_for_signature("U1", code)
        assert h.audit.events[-1].details["offset"] == f"{offset:+d}"
    elif code not in near:  # an unlucky collision with a neighbouring step would be valid
        with pytest.raises(WrongCode) as raised:
            await h.tokens.verify_for_signature("U1", code)
        assert raised.value.tries_left == 4
        assert "4 tries left" in said(raised.value)


async def test_same_code_twice(h: Harness) -> None:
    secret = await h.active()
    with refused(CodeReused, match="Wait for the next code"):
        await h.tokens.verify_for_signature("U1", h.code(secret))  # the activation's code
    h.clock.advance(seconds=30)
    code = h.code(secret)
    await h.tokens.verify_for_signature("U1", code)
    with pytest.raises(CodeReused):
        await h.tokens.verify_for_signature("U1", code)
    with pytest.raises(CodeReused):  # an earlier step is never accepted after a later one
        await h.tokens.verify_for_signature("U1", h.code(secret, -1))
    assert (await h.tokens.status("U1")).failures == 0, "a reused code is not a failed attempt"
    h.clock.advance(seconds=30)
    await h.tokens.verify_for_signature("U1", h.code(secret))


async def test_same_code_submitted_20_times_at_once_passes_once(h: Harness) -> None:
    secret = await h.active()
    h.clock.advance(seconds=30)
    code = h.code(secret)
    if h.redis is not None:
        # Open 20 pooled connections first: otherwise the first submission finishes on the one
        # warm connection while the others are still connecting, and nothing really races.
        await asyncio.gather(*(h.redis.ping() for _ in range(20)))
    results = await asyncio.gather(
        *(h.tokens.verify_for_signature("U1", code) for _ in range(20)), return_exceptions=True
    )
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert sum(1 for r in results if isinstance(r, CodeReused)) == 19
    assert h.audit.actions().count("token.verify.ok") == 1
    assert h.audit.actions().count("token.verify.replayed") == 19


# -- lockout -----------------------------------------------------------------------------------


async def test_lockout_after_5_failures_and_its_end(h: Harness) -> None:
    secret = await h.active()
    h.clock.advance(seconds=30)
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongCode) as raised:
            await h.tokens.verify_for_signature("U1", h.wrong_code(secret))
        assert raised.value.tries_left == left
    locked_at = h.clock.now()
    with pytest.raises(TokenLocked) as locked:
        await h.tokens.verify_for_signature("U1", h.wrong_code(secret))
    until = locked_at + timedelta(minutes=15)
    assert locked.value.until == until
    assert h.alerts.locked == [("U1", until)]
    assert h.audit.actions()[-1] == "token.locked"
    status = await h.tokens.status("U1")
    assert (status.condition, status.failures, status.locked_until) == (Condition.LOCKED, 5, until)
    assert "locked until" in token_status_line(status)
    # While locked even the right code is refused, and not used up.
    h.clock.advance(minutes=14, seconds=59)
    code = h.code(secret)
    with pytest.raises(TokenLocked):
        await h.tokens.verify_for_signature("U1", code)
    with pytest.raises(TokenLocked):
        await h.tokens.start_enrolment("U1", EMAIL)
    assert len(h.alerts.locked) == 1
    h.clock.advance(seconds=1)
    await h.tokens.verify_for_signature("U1", code)
    status = await h.tokens.status("U1")
    assert (status.condition, status.failures) == (Condition.ACTIVE, 0)


async def test_failures_outside_the_window_start_a_new_count(h: Harness) -> None:
    secret = await h.active()
    for _ in range(4):
        with pytest.raises(WrongCode):
            await h.tokens.verify_for_signature("U1", h.wrong_code(secret))
    h.clock.advance(minutes=15)
    with pytest.raises(WrongCode) as raised:
        await h.tokens.verify_for_signature("U1", h.wrong_code(secret))
    assert raised.value.tries_left == 4


async def test_success_resets_the_count(h: Harness) -> None:
    secret = await h.active()
    h.clock.advance(seconds=30)
    for _ in range(4):
        with pytest.raises(WrongCode):
            await h.tokens.verify_for_signature("U1", h.wrong_code(secret))
    await h.tokens.verify_for_signature("U1", h.code(secret))
    assert (await h.tokens.status("U1")).failures == 0
    with pytest.raises(WrongCode) as raised:
        await h.tokens.verify_for_signature("U1", h.wrong_code(secret))
    assert raised.value.tries_left == 4


async def test_admin_unlock(h: Harness) -> None:
    secret = await h.active()
    for _ in range(5):
        with pytest.raises((WrongCode, TokenLocked)):
            await h.tokens.verify_for_signature("U1", h.wrong_code(secret))
    await h.tokens.unlock("U1", ADMIN)
    h.clock.advance(seconds=30)
    await h.tokens.verify_for_signature("U1", h.code(secret))
    assert "token.unlocked" in h.audit.actions()
    with pytest.raises(NotFound):
        await h.tokens.unlock("U404", ADMIN)


async def test_wrong_codes_while_confirming_also_lock(h: Harness) -> None:
    secret = await h.enrol()
    for _ in range(4):
        with pytest.raises(WrongCode):
            await h.tokens.activate("U1", h.wrong_code(secret))
    with pytest.raises(TokenLocked):
        await h.tokens.activate("U1", h.wrong_code(secret))
    assert len(h.alerts.locked) == 1


# -- malformed input ---------------------------------------------------------------------------


async def test_malformed_input_is_never_a_failed_attempt(h: Harness) -> None:
    secret = await h.active()
    h.clock.advance(seconds=30)
    for raw in [*MALFORMED, None, 123456, b"123456"]:
        with pytest.raises(CodeFormatError) as raised:
            await h.tokens.verify_for_signature("U1", raw)
        assert isinstance(raised.value, InputError)
        assert "6 digits" in said(raised.value)
    status = await h.tokens.status("U1")
    assert (status.condition, status.failures) == (Condition.ACTIVE, 0)
    assert h.alerts.locked == []
    assert h.audit.actions().count("token.verify.malformed") == len(MALFORMED) + 3
    if isinstance(h.store, MemoryTokenStore):
        assert h.store.calls.count("attempt") == 1, "only the activation reached the store"
    code = h.code(secret)
    await h.tokens.verify_for_signature("U1", f" {code[:3]} {code[3:]} ")


async def test_malformed_confirmation_is_not_counted(h: Harness) -> None:
    secret = await h.enrol()
    for raw in MALFORMED:
        with pytest.raises(CodeFormatError):
            await h.tokens.activate("U1", raw)
    await h.tokens.activate("U1", h.code(secret))


# -- validity, revocation, status, reminders ---------------------------------------------------


async def test_expiry_after_token_validity_days(h: Harness) -> None:
    secret = await h.active()
    activated = h.clock.now()
    h.clock.set(activated + timedelta(days=30) - timedelta(seconds=30))
    await h.tokens.verify_for_signature("U1", h.code(secret))
    h.clock.set(activated + timedelta(days=30))
    with pytest.raises(TokenExpired) as raised:
        await h.tokens.verify_for_signature("U1", h.code(secret))
    assert raised.value.expired_at == activated + timedelta(days=30)
    assert said(raised.value) == (
        "Your Approval Token expired on 2026-12-23 09:00 UTC. Run /approvals enroll to renew it."
    )
    status = await h.tokens.status("U1")
    assert status.condition is Condition.EXPIRED
    assert token_status_line(status).startswith("expired on 2026-12-23 09:00 UTC")


async def test_extend(h: Harness) -> None:
    secret = await h.active()
    activated = h.clock.now()
    expires = await h.tokens.extend("U1", 10, ADMIN)
    assert expires == activated + timedelta(days=40)
    h.clock.set(activated + timedelta(days=35))
    await h.tokens.verify_for_signature("U1", h.code(secret))
    assert h.audit.events[-2].action == "token.extended"
    assert h.audit.events[-2].actor == ADMIN
    with pytest.raises(InputError):
        await h.tokens.extend("U1", 0, ADMIN)
    with pytest.raises(NotFound):
        await h.tokens.extend("U404", 5, ADMIN)


async def test_revoke_lost_device(h: Harness) -> None:
    secret = await h.active()
    revocation = await h.tokens.revoke("U1", Actor("U1"), "lost device")
    assert revocation.qr is None
    h.clock.advance(seconds=30)
    with refused(TokenRevoked, match="revoked on 2026-11-23 09:00 UTC"):
        await h.tokens.verify_for_signature("U1", h.code(secret))
    status = await h.tokens.status("U1")
    assert (status.condition, status.enrolled) == (Condition.REVOKED, False)
    event = next(e for e in h.audit.events if e.action == "token.revoked")
    assert (event.reason, event.actor) == ("lost device", Actor("U1"))
    with pytest.raises(NotFound):
        await h.tokens.revoke("U1", ADMIN, "again")
    again = await h.tokens.start_enrolment("U1", EMAIL)
    await h.tokens.activate("U1", h.code(again.setup_key))


async def test_status(h: Harness) -> None:
    status = await h.tokens.status("U1")
    assert (status.condition, status.enrolled, token_status_line(status)) == (
        Condition.NOT_ENROLLED,
        False,
        "not enrolled",
    )
    secret = await h.enrol()
    assert token_status_line(await h.tokens.status("U1")) == (
        "pending: confirm it with a code before 2026-11-23 09:10 UTC"
    )
    await h.tokens.activate("U1", h.code(secret))
    h.clock.advance(seconds=30)
    with pytest.raises(WrongCode):
        await h.tokens.verify_for_signature("U1", h.wrong_code(secret))
    assert token_status_line(await h.tokens.status("U1")) == (
        "active until 2026-12-23 09:00 UTC · last used 2026-11-23 09:00 UTC · failed attempts 1"
    )
    h.clock.advance(minutes=15)
    assert (await h.tokens.status("U1")).failures == 0, "old failures no longer count"


async def test_expiry_reminders_once_each(h: Harness) -> None:
    await h.active("U1")
    start = h.clock.now()
    end = start + timedelta(days=30)
    assert await h.tokens.due_expiry_reminders(start) == []
    at = end - timedelta(days=7)
    due = await h.tokens.due_expiry_reminders(at)
    assert [(r.user, r.expires_at, r.days_before) for r in due] == [("U1", end, 7)]
    assert await h.tokens.due_expiry_reminders(at + timedelta(hours=1)) == []
    at = end - timedelta(hours=23)
    assert [r.days_before for r in await h.tokens.due_expiry_reminders(at)] == [1]
    assert await h.tokens.due_expiry_reminders(at + timedelta(hours=1)) == []
    assert await h.tokens.due_expiry_reminders(end + timedelta(hours=1)) == []
    # Extending starts the reminders again for the new expiry.
    h.clock.set(at)
    new_end = await h.tokens.extend("U1", 30, ADMIN)
    due = await h.tokens.due_expiry_reminders(new_end - timedelta(days=6))
    assert [(r.expires_at, r.days_before) for r in due] == [(new_end, 7)]


async def test_two_workers_never_send_one_reminder_twice(h: Harness) -> None:
    await h.active("U1")
    at = h.clock.now() + timedelta(days=23, hours=1)
    first, second = await asyncio.gather(
        h.tokens.due_expiry_reminders(at), h.tokens.due_expiry_reminders(at)
    )
    assert len(first) + len(second) == 1


# -- no secret anywhere ------------------------------------------------------------------------


async def _flow(h: Harness) -> tuple[str, str]:
    """Enrol, record the DM, activate, fail, replay, sign; return (secret, otpauth URI)."""
    enrolment = await h.tokens.start_enrolment("U1", EMAIL)
    await h.tokens.record_qr_message("U1", enrolment.enrolment_id, QrMessage("D1", "1.1", "F1"))
    secret = enrolment.setup_key
    await h.tokens.activate("U1", h.code(secret))
    h.clock.advance(seconds=30)
    wrong = h.wrong_code(secret)
    h.codes_seen.add(wrong)
    with pytest.raises(WrongCode):
        await h.tokens.verify_for_signature("U1", wrong)
    code = h.code(secret)
    await h.tokens.verify_for_signature("U1", code)
    with pytest.raises(CodeReused):
        await h.tokens.verify_for_signature("U1", code)
    with pytest.raises(CodeFormatError):
        await h.tokens.verify_for_signature("U1", code[:5])
    return secret, enrolment.otpauth_uri


def _assert_clean(h: Harness, text: str, secret: str, uri: str) -> None:
    assert secret not in text
    assert secret.lower() not in text
    assert "otpauth" not in text
    assert uri not in text
    # Codes are compared as whole digit runs: a 6-digit code may occur by chance inside a
    # 13-digit millisecond timestamp, which would say nothing.
    runs = set(re.findall(r"\d+", text))
    assert not (h.codes_seen & runs)
    assert not any(code[:5] in runs for code in h.codes_seen)


async def test_audit_entries_hold_no_code_or_secret(h: Harness) -> None:
    secret, uri = await _flow(h)
    assert h.audit.actions() == [
        "token.enrol.started",
        "token.enrol.activated",
        "token.verify.failed",
        "token.verify.ok",
        "token.verify.replayed",
        "token.verify.malformed",
    ]
    for event in h.audit.events:
        assert event.target == "approval-token:U1"
        _assert_clean(h, repr(event), secret, uri)


async def test_no_secret_uri_or_code_in_debug_logs(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, uri = await _flow(h)
    assert any(r.name.startswith("services.approval_token") for r in caplog.records)
    # Message, arguments, extras and traceback; not the record's own timing and process numbers,
    # whose digit runs could match a code by chance.
    standard = set(logging.makeLogRecord({}).__dict__) - {"msg", "args", "exc_text"}
    for record in caplog.records:
        said = {k: v for k, v in record.__dict__.items() if k not in standard}
        _assert_clean(h, record.getMessage() + repr(said), secret, uri)


async def test_nothing_in_clear_in_redis(hr: Harness) -> None:
    h = hr
    assert h.redis is not None
    redis = h.redis
    secret, uri = await _flow(h)
    dump: list[str] = []
    sealed: list[bytes] = []
    async for key in redis.scan_iter(match="*"):
        raw_kind = await redis.type(key)
        kind = raw_kind.decode() if isinstance(raw_kind, bytes) else raw_kind
        dump.append(repr(key))
        if kind == "hash":
            fields = await redis.hgetall(key)
            dump.append(repr(fields))
            sealed += [v for k, v in fields.items() if k == b"secret" and isinstance(v, bytes)]
        elif kind == "zset":
            dump.append(repr(await redis.zrange(key, 0, -1, withscores=True)))
        elif kind == "set":  # the inventory's index of users
            dump.append(repr(sorted(await redis.smembers(key))))
        elif kind == "string":
            dump.append(repr(await redis.get(key)))
        else:
            raise AssertionError(f"unexpected key type {kind}")
    text = "\n".join(dump)
    _assert_clean(h, text, secret, uri)
    assert key_from_base32(secret) not in text.encode("latin-1", "replace")
    assert [h.box.open(s).decode() for s in sealed] == [secret], "stored, but only sealed"


async def test_pending_secret_carries_a_ttl_in_redis(hr: Harness) -> None:
    h = hr
    assert h.redis is not None
    secret = await h.enrol()
    key = Keys("test:").totp_token("U1")
    assert 0 < await h.redis.ttl(key) <= 600
    await h.tokens.activate("U1", h.code(secret))
    assert await h.redis.ttl(key) == -1, "an active token does not expire by TTL"


class RacingStore(MemoryTokenStore):
    """Re-enrols the user between the service's read and its attempt, once."""

    raced = False

    async def attempt(self, user: str, *args: object, **kwargs: object) -> Any:
        if not self.raced:
            self.raced = True
            record = self.records[user]
            await self.begin_enrolment(
                NewEnrolment(user, "racer", b"other", record.created_at, record.created_at)
            )
            self.records[user] = replace(self.records[user], pending_until=FAR)
        return await super().attempt(user, *args, **kwargs)  # type: ignore[arg-type]


FAR = datetime(2100, 1, 1, tzinfo=UTC)


async def test_a_reenrolment_racing_a_signature_wins(clock: FakeClock) -> None:
    store = RacingStore()
    audit = RecordingAuditor()
    tokens = ApprovalTokens(
        store=store,
        box=SecretBox([new_key()]),
        clock=clock,
        auditor=audit,
        alerts=RecordingAlerts(),
        validity_days=30,
        max_failures=5,
        lockout_minutes=15,
    )
    store.raced = True
    enrolment = await tokens.start_enrolment("U1", EMAIL)
    step = int(clock.now().timestamp()) // 30
    await tokens.activate("U1", code_for_step(enrolment.setup_key, step))
    clock.advance(seconds=30)
    store.raced = False
    with pytest.raises(TokenPending):  # re-read after STALE: the old secret no longer signs
        await tokens.verify_for_signature("U1", code_for_step(enrolment.setup_key, step + 1))
    assert store.calls.count("attempt") == 2
