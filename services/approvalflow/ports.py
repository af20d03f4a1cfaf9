"""The ApprovalFlow interface features depend on; `ApprovalFlowClient` implements it over HTTP.

Every method acts as the Slack user `user_id`: the call carries that person's own Atlassian
token, so ApprovalFlow records the real person. A decision endpoint, should ApprovalFlow ever
publish one, is one more method here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.approvalflow.models import (
    ChangeSet,
    ChangeSetPreflight,
    ChangeSetSaved,
    ChangeSetSubmission,
    PagePreflight,
    PageSubmitResult,
)


class ApprovalFlowApi(Protocol):
    """ApprovalFlow's 9 endpoints, each as the acting Slack user."""

    async def list_change_sets(self, user_id: str, space_id: str) -> tuple[ChangeSet, ...]: ...

    async def change_set_detail(self, user_id: str, change_set_id: str) -> ChangeSet: ...

    async def create_change_set(
        self,
        user_id: str,
        *,
        space_id: str,
        title: str,
        page_ids: Sequence[str],
        summary: str | None = None,
        reference_url: str | None = None,
    ) -> ChangeSetSaved: ...

    async def update_change_set(
        self,
        user_id: str,
        change_set_id: str,
        *,
        title: str | None = None,
        summary: str | None = None,
        reference_url: str | None = None,
        page_ids: Sequence[str] | None = None,
    ) -> ChangeSetSaved: ...

    async def archive_change_set(self, user_id: str, change_set_id: str) -> ChangeSetSaved: ...

    async def submit_change_set(self, user_id: str, change_set_id: str) -> ChangeSetSubmission: ...

    async def preflight_change_set(
        self, user_id: str, change_set_id: str
    ) -> ChangeSetPreflight: ...

    async def submit_page(self, user_id: str, page_id: str) -> PageSubmitResult: ...

    async def preflight_page(self, user_id: str, page_id: str) -> PagePreflight: ...
