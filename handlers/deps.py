"""What the listeners need, built by the composition root (bot/wiring.py) and handed in once."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.lifecycle import WorkspaceEvents
from handlers.ports import EnrolmentSender, SlackSurfaces, TokenLostAlerts
from services.admin import AdminServices
from services.approval_token import ApprovalTokens
from services.evidence import EvidenceReports
from services.linking import AccountLinking
from services.ports import Leases
from services.requests.ports import RequestService


@dataclass(frozen=True)
class HandlerDeps:
    """The services and facts listeners use; never the whole Settings."""

    sandbox: bool
    linking: AccountLinking
    tokens: ApprovalTokens
    token_alerts: TokenLostAlerts  # the same alerts the service raises, for /approvals lost
    admin: AdminServices  # /approvals tokens and audit
    requests: RequestService  # approval requests and signing
    approvals_channel: str | None  # APPROVALS_CHANNEL: where requests go unless one is named
    evidence: EvidenceReports  # signature evidence reports (PDF)
    slack: SlackSurfaces  # modals, Home, ephemeral replies, files (bot/slack)
    enrolment_dms: EnrolmentSender  # the enrolment DM and token DMs (bot/slack)
    workspace: WorkspaceEvents  # what lifecycle events mean: deactivations, closed channels
    leases: Leases  # one modal per double click on Approve/Reject, across processes
