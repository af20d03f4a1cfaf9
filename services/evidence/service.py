"""Generates evidence reports for the people allowed to have them, and verifies a report file.

A report is evidence in its own right: each has an id printed on every page, and the SHA-256 of
the file is recorded in the audit trail (`evidence.generated`: report id, request, who asked).
`verify` recomputes the hash of a file and looks for that record, so any changed byte or removed
page makes the file unknown; the record is trusted only while the chain verifies.

Audit actions (target "request:<id>"):
    evidence.generated   the person (or operator) who asked; details: report_id, sha256, pages
    evidence.refused     someone who is neither the requester, a signer nor an admin
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass

from services.audit.chain import AuditEntry
from services.audit.events import Actor, AuditEvent, Auditor
from services.audit.keys import AuditKeyring
from services.audit.ports import AuditLog
from services.audit.trail import verify_trail
from services.errors import EvidenceNotAllowed, NoSuchRequest, NotARequestId
from services.evidence import wording
from services.evidence.assemble import SIGNATURE_RECORDED, Moment, assemble, request_target
from services.evidence.model import Party, ReportFile, Verdict
from services.evidence.ports import AdminCheck, ReportRenderer
from services.ports import Clock
from services.requests.model import ID_ALPHABET, ApprovalRequest, normalise_request_id
from services.requests.store import RequestStore

GENERATED = "evidence.generated"
REFUSED = "evidence.refused"
REPORT_ID_LENGTH = 8
_REPORT_ID = re.compile(rb"EV-[" + ID_ALPHABET.encode() + rb"]{%d}" % REPORT_ID_LENGTH)


def new_report_id() -> str:
    return "EV-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(REPORT_ID_LENGTH))


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class EvidenceSettings:
    site_url: str  # CONFLUENCE_SITE_URL (or the sandbox's), for page links
    sandbox: bool


@dataclass(frozen=True)
class Permit:
    """A person's leave to have one request's report, with what the check read."""

    request: ApprovalRequest
    entries: list[AuditEntry]
    party: Party


class EvidenceReports:
    """`/approvals evidence`, the Evidence (PDF) button, and `approvals-bot evidence`."""

    def __init__(
        self,
        *,
        requests: RequestStore,
        log: AuditLog,
        keys: AuditKeyring,
        auditor: Auditor,
        admins: AdminCheck,
        renderer: ReportRenderer,
        clock: Clock,
        settings: EvidenceSettings,
    ) -> None:
        self._requests = requests
        self._log = log
        self._keys = keys
        self._auditor = auditor
        self._admins = admins
        self._renderer = renderer
        self._clock = clock
        self._settings = settings

    async def for_slack_user(self, request_text: str, user: str) -> ReportFile:
        """The report for a person in Slack: `permit`, then `generate`."""
        return await self.generate(await self.permit(request_text, user))

    async def permit(self, request_text: str, user: str) -> Permit:
        """Whether a person in Slack may have the report: the requester, a signer or an admin.
        Anyone else gets EvidenceNotAllowed, and the refusal is audited. Quick next to
        `generate`, so a caller can refuse before it says a report is on its way."""
        request = await self._request(request_text)
        entries = await self._entries()
        party = await self._participant(request, entries, user)
        if party is None:
            await self._auditor.record(
                AuditEvent(
                    actor=Actor(slack_id=user),
                    action=REFUSED,
                    target=request_target(request.id),
                    reason="neither the requester, a signer nor an admin",
                )
            )
            raise EvidenceNotAllowed(request.id)
        return Permit(request, entries, party)

    async def generate(self, permit: Permit) -> ReportFile:
        return await self._generate(permit.request, permit.entries, permit.party, via="slack")

    async def for_operator(self, request_text: str, operator: Party) -> ReportFile:
        """The report for whoever runs the command line on the bot's host (who holds its keys
        and store already, so there is nothing to check)."""
        request = await self._request(request_text)
        return await self._generate(request, await self._entries(), operator, via="cli")

    async def verify(self, content: bytes) -> Verdict:
        """Whether `content` is, byte for byte, a report this bot generated and recorded."""
        digest = sha256_hex(content)
        claimed = _REPORT_ID.search(content)
        claimed_id = claimed.group(0).decode() if claimed else None
        match: AuditEntry | None = None
        named: AuditEntry | None = None
        async for entry in self._log.entries():
            if entry.action != GENERATED:
                continue
            if entry.details.get("sha256") == digest:
                match = entry
            elif claimed_id and entry.details.get("report_id") == claimed_id:
                named = entry
        if match is None:
            text = wording.UNKNOWN_FILE.format(digest=digest)
            if named is not None:
                text += " " + wording.CLAIMS.format(
                    recorded=named.details.get("sha256", "?"), **_described(named)
                )
            return Verdict(genuine=False, text=text)
        chain = await verify_trail(self._log, self._keys)
        if not chain.ok:
            text = wording.CHAIN_BROKEN.format(
                digest=digest, seq=match.seq, chain=chain.describe(), **_described(match)
            )
            return Verdict(genuine=False, text=text)
        text = wording.GENUINE.format(digest=digest, seq=match.seq, **_described(match))
        return Verdict(genuine=True, text=text)

    def renderer_ready(self) -> str:
        """What reports are rendered with; raises ConfigError when they cannot be."""
        return self._renderer.ready()

    # -- helpers -----------------------------------------------------------------------------

    async def _request(self, text: str) -> ApprovalRequest:
        request_id = normalise_request_id(text)
        if request_id is None:
            raise NotARequestId(text)
        request = await self._requests.get(request_id)
        if request is None:
            raise NoSuchRequest(request_id)
        return request

    async def _entries(self) -> list[AuditEntry]:
        return [entry async for entry in self._log.entries()]

    async def _participant(
        self, request: ApprovalRequest, entries: list[AuditEntry], user: str
    ) -> Party | None:
        """Who `user` is to this request, as the records name them; None: nobody to it."""
        target = request_target(request.id)
        own = [e for e in entries if e.target == target and e.actor_slack_id == user]
        if user == request.requester:
            created = next((e for e in own if e.action == "request.created"), None)
            if created is not None:
                return Party(created.actor_name or user, user, created.actor_atlassian_id)
            return Party(user, user)
        for signature in request.signatures:
            if signature.signer.slack_id == user:
                signer = signature.signer
                return Party(signer.name, signer.slack_id, signer.atlassian_id)
        # A signature whose submit then failed is no longer on the request, but it was made.
        signed = next((e for e in own if e.action == SIGNATURE_RECORDED), None)
        if signed is not None:
            return Party(signed.actor_name or user, user, signed.actor_atlassian_id)
        admin = await self._admins.check(user)
        if admin is not None:
            actor = admin.actor
            return Party(actor.name or user, user, actor.atlassian_id or "")
        return None

    async def _generate(
        self, request: ApprovalRequest, entries: list[AuditEntry], party: Party, via: str
    ) -> ReportFile:
        chain = await verify_trail(self._log, self._keys)
        moment = Moment(
            report_id=new_report_id(),
            generated_at=self._clock.now(),
            generated_for=party,
            sandbox=self._settings.sandbox,
        )
        record = assemble(request, entries, chain, moment, site_url=self._settings.site_url)
        rendered = await asyncio.to_thread(self._renderer.render, record)
        digest = sha256_hex(rendered.content)
        await self._auditor.record(
            AuditEvent(
                actor=Actor(party.slack_id, party.atlassian_id or None, party.name),
                action=GENERATED,
                target=request_target(request.id),
                details={
                    "report_id": moment.report_id,
                    "sha256": digest,
                    "pages": str(rendered.pages),
                    "generated_at": moment.generated_at.isoformat(),
                    "via": via,
                },
            )
        )
        return ReportFile(
            filename=f"evidence-{request.id}-{moment.report_id}.pdf",
            content=rendered.content,
            report_id=moment.report_id,
            request_id=request.id,
            sha256=digest,
            pages=rendered.pages,
        )


def _described(entry: AuditEntry) -> dict[str, str]:
    """What a GENERATED entry says about its report, for the verdict's sentence."""
    return {
        "report": entry.details.get("report_id", "?"),
        "request": entry.target.removeprefix("request:"),
        "when": entry.at,
        "who": wording.who(entry.actor_name, entry.actor_slack_id),
    }
