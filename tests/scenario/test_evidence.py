"""Evidence reports over HTTP: `/approvals evidence` and the Evidence (PDF) button deliver a PDF
to the caller's DM; poppler reads every field back and renders every page; the file verifies,
and stops verifying after one changed byte or a removed page; strangers are refused (audited)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulators.approvalflow.seed import ALICE, BOB
from emulators.slack import FakeSlack, ResponsePost
from handlers.blocks.requests import EVIDENCE_ACTION
from services.audit.chain import AuditEntry
from services.evidence.wording import utc
from services.requests.model import ApprovalRequest, Status
from services.secretbox import new_key
from tests.fakes.clock import FakeClock
from tests.scenario.evidence_kit import (
    COMMENT,
    approved_and_reviewed,
    by_button,
    by_command,
    uploads,
)
from tests.scenario.requests_kit import Requests, buttons, requests_world
from tests.scenario.test_cli import run_cli
from tests.scenario.test_policies import policies_world, sign

REASON = "The SSO section still describes the old login page."


@pytest.fixture
async def world(
    fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock
) -> AsyncIterator[Requests]:
    async with requests_world(
        fake_slack, redis_url, clock, ENCRYPTION_KEYS=new_key(), ADMIN_USER_IDS="U0DAVE"
    ) as world:
        await world.ready("U0ALICE", "U0BOB")
        yield world


@dataclass
class Pdf:
    """A report as poppler reads it: the text of each page."""

    content: bytes
    pages: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    def has(self, value: str) -> bool:
        """`value` is in the text, ignoring line breaks (long hashes and links wrap)."""
        return _squeeze(value) in _squeeze(self.text)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def read_pdf(content: bytes, tmp: Path) -> Pdf:
    path = tmp / "report.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    count = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))  # type: ignore[union-attr]
    pages = []
    for number in range(1, count + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        )
        pages.append(text.stdout)
    return Pdf(content, pages)


def render_pages(content: bytes, tmp: Path) -> list[Path]:
    """Every page as a PNG with pdftoppm; fails on any error poppler reports."""
    path = tmp / "render.pdf"
    path.write_bytes(content)
    done = subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(path), str(tmp / "page")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr == "", done.stderr
    return sorted(tmp.glob("page-*.png"))


async def stored(world: Requests, request_id: str) -> ApprovalRequest:
    return await world.bot.container.requests.get(request_id)


def own_entries(entries: list[AuditEntry], request_id: str) -> list[AuditEntry]:
    return [e for e in entries if e.target == f"request:{request_id}"]


def assert_furniture(pdf: Pdf, report_id: str, generated: str) -> None:
    """Every page names the report, its page number of the total and the generation time."""
    total = len(pdf.pages)
    for number, page in enumerate(pdf.pages, start=1):
        assert report_id in page, number
        assert f"page {number} of {total}" in page, number
        assert f"Generated {generated}" in page, number


async def test_approved_request_report_has_every_field_and_verifies(
    world: Requests, tmp_path: Path
) -> None:
    posted = await approved_and_reviewed(world)
    message = world.message(posted)
    assert [b["action_id"] for b in buttons(message.blocks)] == [EVIDENCE_ACTION]
    request = await stored(world, posted.id)
    before_report = own_entries(await world.audit(), posted.id)

    generated_at = world.clock.now()
    file = await by_button(world, "U0BOB", posted)
    assert file.content is not None
    pdf = read_pdf(file.content, tmp_path)

    [generated] = [e for e in await world.audit() if e.action == "evidence.generated"]
    report_id = generated.details["report_id"]
    assert generated.actor_slack_id == "U0BOB" and generated.actor_name == "Bob Baker"
    assert generated.target == f"request:{posted.id}"
    assert file.filename == f"evidence-{posted.id}-{report_id}.pdf"
    assert_furniture(pdf, report_id, utc(generated_at))

    # The request, the target, the snapshot: in the order.
    fields = [
        "1. Request", posted.id, "PR-184 Auth docs update", "Alice Anders", "U0ALICE", ALICE,
        utc(request.created_at), "Signing policy", "one signature",
        "2. Target", "change set", "cs-eng184", str(request.reference_url),
        "3. Snapshot signed",
    ]  # fmt: skip
    for page in request.snapshot.pages:
        assert page.title, "the sandbox's Confluence gives every page a title"
        fields += [page.page_id, page.title, f"v{page.version}"]
    fields += [request.snapshot.digest, "4. Signatures"]
    [signature] = request.signatures
    fields += [
        "Bob Baker", "U0BOB", BOB, utc(signature.signed_at), "Approved",
        "I approve submitting these 3 pages for review", COMMENT, "code verified",
        "5. ApprovalFlow submission", "Submitted as", "submitted: 3 page(s), 0 skipped",
        "6. Review timeline", "partially_approved", "all_approved",
        "7. Audit entries of this request", "Chain verification", "INTACT",
    ]  # fmt: skip
    positions = [_squeeze(pdf.text).find(_squeeze(value)) for value in fields]
    missing = [value for value, at in zip(fields, positions, strict=True) if at < 0]
    assert missing == []
    headings = [positions[fields.index(h)] for h in fields if re.match(r"\d\. ", h)]
    assert headings == sorted(headings)

    # Each review state with its time; every audit entry of the request with its key id and seal.
    changes = [e for e in before_report if e.action == "request.review.changed"]
    assert [e.details["current"] for e in changes][-2:] == ["partially_approved", "all_approved"]
    for entry in before_report:
        assert pdf.has(entry.hash) and pdf.has(f"kid {entry.kid}"), entry.action
        if entry.action == "request.review.changed":
            assert pdf.has(utc(entry.time)) and pdf.has(entry.details["current"])
    # Nothing secret: no code, no setup key, no token.
    for secret in world.secrets.values():
        assert not pdf.has(secret)
    assert "xoxb" not in pdf.text

    pngs = render_pages(file.content, tmp_path)
    assert len(pngs) == len(pdf.pages) >= 2

    # The file verifies; one byte changed, or a page removed, and it no longer does.
    evidence = world.bot.container.evidence
    verdict = await evidence.verify(file.content)
    assert verdict.genuine and report_id in verdict.text and posted.id in verdict.text
    assert "Bob Baker" in verdict.text
    changed = bytearray(file.content)
    middle = len(changed) // 2
    changed[middle] ^= 0x01
    tampered = await evidence.verify(bytes(changed))
    assert not tampered.genuine and "NOT VERIFIED" in tampered.text
    shorter = remove_page(file.content, 2, tmp_path)
    assert len(read_pdf(shorter, tmp_path).pages) == len(pdf.pages) - 1
    cut = await evidence.verify(shorter)
    assert not cut.genuine and "NOT VERIFIED" in cut.text


def remove_page(content: bytes, page: int, tmp: Path) -> bytes:
    """The same PDF without page `page`, made with poppler's pdfseparate and pdfunite."""
    source = tmp / "whole.pdf"
    source.write_bytes(content)
    parts = tmp / "parts"
    parts.mkdir(exist_ok=True)
    subprocess.run(["pdfseparate", str(source), str(parts / "p-%d.pdf")], check=True)
    kept = sorted(
        (p for p in parts.glob("p-*.pdf") if p.stem != f"p-{page}"),
        key=lambda p: int(p.stem.split("-")[1]),
    )
    joined = tmp / "joined.pdf"
    subprocess.run(["pdfunite", *map(str, kept), str(joined)], check=True)
    return joined.read_bytes()


async def test_rejected_request_report_by_the_requester(world: Requests, tmp_path: Path) -> None:
    posted = await world.request("cs-eng184")
    form = await world.click("U0BOB", posted.id, "reject", posted=posted)
    await world.submit("U0BOB", form, code=world.code("U0BOB"), reason=REASON)
    message = world.message(posted)
    assert [b["action_id"] for b in buttons(message.blocks)] == [EVIDENCE_ACTION]
    request = await stored(world, posted.id)

    file = await by_command(world, "U0ALICE", posted.id)
    assert file.content is not None
    pdf = read_pdf(file.content, tmp_path)
    [signature] = request.signatures
    for value in (
        posted.id, "Alice Anders", ALICE, request.snapshot.digest,
        "Bob Baker", "U0BOB", BOB, utc(signature.signed_at), "Rejected",
        "I reject submitting these 3 pages for review", "Reason", REASON, "code verified",
        "Nothing was submitted to ApprovalFlow", "No review: the request was not submitted",
        "INTACT",
    ):  # fmt: skip
        assert pdf.has(value), value
    [generated] = [e for e in await world.audit() if e.action == "evidence.generated"]
    assert generated.actor_slack_id == "U0ALICE"
    assert_furniture(pdf, generated.details["report_id"], utc(world.clock.now()))
    assert len(render_pages(file.content, tmp_path)) == len(pdf.pages)
    assert (await world.bot.container.evidence.verify(file.content)).genuine


async def test_strangers_are_refused_and_audited_admins_are_not(world: Requests) -> None:
    posted = await world.request("cs-eng184 <@U0BOB>")
    before, replies = uploads(world), len(world.slack.response_posts)
    answer = await world.command(f"evidence {posted.id}", "U0CAROL")
    # Refused first and only: no word of a report on its way, before or after.
    told = await later_reply(world, "U0CAROL", replies)
    assert answer == told
    said = [p.text or "" for p in world.slack.response_posts[replies:] if p.user == "U0CAROL"]
    assert not any("Making the evidence report" in text for text in said), said
    [refused] = [e for e in await world.audit() if e.action == "evidence.refused"]
    assert refused.actor_slack_id == "U0CAROL" and refused.target == f"request:{posted.id}"
    assert "Only the requester" in (told.text or "") and "Nothing was generated" in (
        told.text or ""
    )
    assert uploads(world) == before
    assert not [e for e in await world.audit() if e.action == "evidence.generated"]

    # An admin (ADMIN_USER_IDS) may have it, even of a request still pending.
    file = await by_command(world, "U0DAVE", posted.id)
    assert file.content is not None and file.content.startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("evidence", "That needs more"),
        ("evidence AR-7K3Q AR-7K3R", "Give one request id"),
        ("evidence not-an-id", "is not a request id"),
    ],
)
async def test_bad_evidence_commands_get_help(world: Requests, text: str, words: str) -> None:
    answer = await world.command(text, "U0ALICE")
    assert answer is not None
    assert words in (answer.text or ""), answer.text


async def test_unknown_request_is_said(world: Requests) -> None:
    before = len(world.slack.response_posts)
    answer = await world.command("evidence AR-ZZZZ", "U0ALICE")
    assert answer is not None
    told = await later_reply(world, "U0ALICE", before)
    assert "AR-ZZZZ" in (told.text or "")


async def later_reply(world: Requests, user: str, before: int) -> ResponsePost:
    """The first reply on a response_url to `user` after the first `before` of them."""
    for _ in range(1000):
        posts = [p for p in world.slack.response_posts[before:] if p.user == user]
        if posts:
            return posts[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no reply to {user}")


async def test_command_line_writes_and_verifies(
    fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    key = new_key()
    async with requests_world(fake_slack, redis_url, clock, ENCRYPTION_KEYS=key) as world:
        await world.ready("U0ALICE", "U0BOB")
        posted = await world.request("cs-eng184")
        form = await world.click("U0BOB", posted.id, "reject", posted=posted)
        await world.submit("U0BOB", form, code=world.code("U0BOB"), reason=REASON)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-cli",
        "SLACK_SIGNING_SECRET": "sig",
        "SLACK_API_URL": fake_slack.api_url,
        "ENCRYPTION_KEYS": key,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": "test:",
        "DATA_DIR": str(tmp_path / "data"),
    }
    out = tmp_path / "report.pdf"
    code, said, err = await run_cli("evidence", posted.id.lower(), "-o", str(out), env=env)
    assert code == 0, err
    assert str(out) in said and posted.id in said
    content = out.read_bytes()
    assert content.startswith(b"%PDF-")

    code, said, _ = await run_cli("evidence", "verify", str(out), env=env)
    assert code == 0 and said.startswith("OK: unmodified evidence report"), said
    assert posted.id in said and "command line" in said

    changed = bytearray(content)
    changed[len(changed) // 3] ^= 0x20
    out.write_bytes(bytes(changed))
    code, said, _ = await run_cli("evidence", "verify", str(out), env=env)
    assert code == 1 and said.startswith("NOT VERIFIED"), said

    code, said, err = await run_cli("evidence", "AR-ZZZZ", "-o", str(out), env=env)
    assert code == 1 and "AR-ZZZZ" in err
    code, _, err = await run_cli("evidence", "verify", str(tmp_path / "missing.pdf"), env=env)
    assert code == 1 and "cannot read" in err


async def test_multi_stage_request_report_names_each_stage(
    fake_slack: FakeSlack, redis: object, redis_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    async with policies_world(fake_slack, redis_url, clock, tmp_path) as world:
        posted = await world.request("cs-eng184")
        for user in ("U0BOB", "U0CAROL", "U0DAVE", "U0ERIN"):
            await sign(world, user, posted)
        request = await stored(world, posted.id)
        assert request.status is Status.SUBMITTED and len(request.signatures) == 4

        file = await by_command(world, "U0CAROL", posted.id)  # a signer of the middle stage
        assert file.content is not None
        pdf = read_pdf(file.content, tmp_path)
        for value in (
            "doc-control", "Author, two peer reviewers, QA", "Stages in order",
            "1. Author: 1 signature", "2. Review: 2 signatures", "3. QA: 1 signature",
        ):  # fmt: skip
            assert pdf.has(value), value
        for signature in request.signatures:
            signer = signature.signer
            for value in (signer.name, signer.slack_id, signer.atlassian_id, signature.meaning):
                assert pdf.has(value), value
        for stage in ("1 of 3, Author", "2 of 3, Review", "3 of 3, QA"):
            assert pdf.has(stage), stage
        text = _squeeze(pdf.text)
        assert text.count(_squeeze("2 of 3, Review")) == 2, "both reviewers, each with the stage"
        submission = text.index(_squeeze("5. ApprovalFlow submission"))
        assert text.index(_squeeze("Erin Evans"), submission) > submission, "submitted as QA"
        assert len(render_pages(file.content, tmp_path)) == len(pdf.pages)
        assert (await world.bot.container.evidence.verify(file.content)).genuine
