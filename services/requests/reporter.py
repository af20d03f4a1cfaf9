"""The request message, its thread and the requester's DM kept in step; the audit entries."""

from __future__ import annotations

from dataclasses import replace

from services.after_answer import AfterAnswer, RightAway
from services.audit.events import Actor, AuditEvent, Auditor
from services.errors import ApprovalsError
from services.requests.model import ApprovalRequest, Decision, Signature, Signer
from services.requests.outcomes import Outcome
from services.requests.ports import Publisher
from services.requests.store import RequestStore

# Audit actions (target "request:<id>"; never a code or token in any field):
#   request.created                     the requester, with the target and snapshot digest
#   request.signature.recorded          the signer; meaning; reason = a rejection's reason
#   request.sign.refused                a signer who is not an allowed reviewer (a forged or
#                                       stale button is worth knowing about, 11.300(d))
#   request.submit.succeeded / .confirmed (a timed-out submit that shows as done) /
#     .recovered (a submit interrupted by a restart, found done) / .failed / .unknown
#   request.expired / request.review.changed   actor: the bot
#   request.watch.added / request.watch.removed


def actor_of(signer: Signer) -> Actor:
    return Actor(signer.slack_id, signer.atlassian_id, signer.name)


class Reporter:
    """Tells people (through the `Publisher`) and the audit trail what happened to a request.

    News that follows a signer's answer (`after_answer`) waits for the answer; any other news
    of the same request waits for it in turn, so a request's messages keep their order."""

    def __init__(
        self,
        store: RequestStore,
        publisher: Publisher,
        auditor: Auditor,
        after_answer: AfterAnswer | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._auditor = auditor
        self._after_answer = after_answer or RightAway()

    async def publish(self, request: ApprovalRequest) -> ApprovalRequest:
        """Post or rewrite the request message; the request as stored (with its message ts)."""
        await self._after_answer.settled(request.id)
        return await self._publish(request)

    async def report(self, outcome: Outcome) -> None:
        """What happened, told in the thread and to the requester (the words are handlers')."""
        await self._after_answer.settled(outcome.request.id)
        await self._publisher.report(outcome)

    async def announce(self, outcome: Outcome) -> ApprovalRequest:
        """An outcome that changes the message: rewritten first, then told."""
        await self._after_answer.settled(outcome.request.id)
        return await self._announce(outcome)

    async def announce_after_answer(self, outcome: Outcome) -> None:
        """`announce`, once the signer has their answer."""

        async def announce() -> None:
            await self._announce(outcome)

        await self._after_answer.run(outcome.request.id, announce)

    def kept_note(self, outcome: Outcome) -> str:
        """The note the request message keeps for an outcome."""
        return self._publisher.kept_note(outcome)

    def failure_reason(self, error: ApprovalsError) -> str:
        return self._publisher.failure_reason(error)

    async def _publish(self, request: ApprovalRequest) -> ApprovalRequest:
        ts = await self._publisher.publish(request)
        if ts and ts != request.message_ts:
            await self._store.set_message(request.id, ts)
            request = request.with_changes(message_ts=ts)
        return request

    async def _announce(self, outcome: Outcome) -> ApprovalRequest:
        request = await self._publish(outcome.request)
        await self._publisher.report(replace(outcome, request=request))
        return request

    async def audit_signature(self, request: ApprovalRequest, signature: Signature) -> None:
        await self.audit(
            actor_of(signature.signer),
            "request.signature.recorded",
            request,
            meaning=signature.meaning,
            reason=signature.comment if signature.decision is Decision.REJECT else "",
            details={
                "decision": signature.decision.value,
                "signed_at": signature.signed_at.isoformat(),
                "snapshot_digest": signature.snapshot_digest,
                "target": str(request.target),
                "comment": signature.comment if signature.decision is Decision.APPROVE else "",
            },
        )

    async def audit(
        self,
        actor: Actor,
        action: str,
        request: ApprovalRequest | None = None,
        *,
        target: str = "",
        meaning: str = "",
        reason: str = "",
        details: dict[str, str] | None = None,
    ) -> None:
        await self._auditor.record(
            AuditEvent(
                actor=actor,
                action=action,
                target=target or (f"request:{request.id}" if request is not None else ""),
                meaning=meaning,
                reason=reason,
                details=details or {},
            )
        )
