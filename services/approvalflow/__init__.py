"""ApprovalFlow for Confluence: its REST API as each person, targets, snapshots and page links."""

from __future__ import annotations

from services.approvalflow.client import ApprovalFlowClient, ApprovalFlowSettings
from services.approvalflow.page_url import parse_page_url, parse_target
from services.approvalflow.ports import ApprovalFlowApi
from services.approvalflow.retry import Backoff
from services.approvalflow.targets import (
    ChangeSetTarget,
    PageSnapshot,
    PageTarget,
    Submission,
    Target,
    TargetSnapshot,
    submit_target,
    take_snapshot,
)

__all__ = [
    "ApprovalFlowApi",
    "ApprovalFlowClient",
    "ApprovalFlowSettings",
    "Backoff",
    "ChangeSetTarget",
    "PageSnapshot",
    "PageTarget",
    "Submission",
    "Target",
    "TargetSnapshot",
    "parse_page_url",
    "parse_target",
    "submit_target",
    "take_snapshot",
]
