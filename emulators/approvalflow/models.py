"""The sandbox's records; `World` holds them all and is what persistence saves as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr


class User(BaseModel):
    """An Atlassian account, and which sites it grants when it consents."""

    account_id: str
    name: str
    email: str
    nickname: str
    job_title: str = ""
    department: str = ""
    site_ids: list[str] = Field(default_factory=list)
    # Profile visibility can hide the email from /me (atlassian-3lo.md §6).
    email_visible: bool = True


class Site(BaseModel):
    """A Confluence Cloud site; `id` is its cloud id."""

    id: str
    url: str
    name: str
    avatar_url: str


class Space(BaseModel):
    id: str
    key: str
    name: str
    site_id: str


class Step(BaseModel):
    """One workflow step: named approvers, and whether any one or all of them must approve."""

    approvers: list[str]
    mode: Literal["any", "all"] = "any"


class Workflow(BaseModel):
    id: str
    space_id: str
    name: str
    steps: list[Step]
    active: bool = True


class Page(BaseModel):
    id: str
    space_id: str
    title: str
    version: int = 1
    status: Literal["current", "draft", "deleted"] = "current"
    # An explicit assignment; without one the space's only active workflow applies.
    workflow_id: str | None = None
    # Who made the current version, and when (Confluence v2's `version.authorId/createdAt`).
    edited_by: str | None = None
    edited_at: datetime | None = None
    # Accounts a page restriction keeps out: Confluence leaves the page out of their answers.
    hidden_from: list[str] = Field(default_factory=list)


class Decision(BaseModel):
    account_id: str
    step: int
    outcome: Literal["approved", "rejected"]
    comment: str
    version: int
    at: datetime


class Approval(BaseModel):
    """One submission of one page for review, and what became of it."""

    id: str
    page_id: str
    workflow_id: str
    change_set_id: str | None
    submitted_by: str
    client_id: str | None
    submitted_version: int
    submitted_at: datetime
    status: Literal["pending", "approved", "rejected"] = "pending"
    step: int = 0
    decisions: list[Decision] = Field(default_factory=list)
    approved_at_version: int | None = None
    decided_at: datetime | None = None


class ChangeSet(BaseModel):
    """A change set; its rollup state is always computed from its pages, never stored."""

    id: str
    space_id: str
    title: str
    summary: str = ""
    reference_url: str = ""
    page_ids: list[str]
    status: Literal["open", "archived"] = "open"
    created_at: datetime
    created_by: str
    updated_at: datetime


class AuthCode(BaseModel):
    code: str
    client_id: str
    redirect_uri: str
    account_id: str
    scopes: list[str]
    site_ids: list[str]
    issued_at: datetime
    used: bool = False


class Family(BaseModel):
    """One grant (consent): every access and refresh token descended from one code exchange."""

    id: str
    client_id: str
    account_id: str
    scopes: list[str]
    site_ids: list[str]
    created_at: datetime
    refresh_count: int = 0
    revoked_at: datetime | None = None
    revoked_reason: str = ""


class RefreshToken(BaseModel):
    token: str
    family_id: str
    parent: str | None
    issued_at: datetime
    exchanged_at: datetime | None = None


class AccessToken(BaseModel):
    token: str
    family_id: str
    issued_at: datetime
    expires_at: datetime
    # The refresh token issued in the same response: its exchange revokes this one later.
    companion: str | None


class Switches(BaseModel):
    app_rest_apis_enabled: bool = True
    licence_active: bool = True


class PageIndex:
    """Each page's submissions, oldest first, kept up with a list that grows at its end; a list
    replaced, or cut and refilled, is indexed anew."""

    __slots__ = ("by_page", "count", "last", "list_id")

    def __init__(self) -> None:
        self.by_page: dict[str, list[Approval]] = {}
        self.count = 0
        self.last: Approval | None = None
        self.list_id = 0

    def of(self, approvals: list[Approval], page_id: str) -> list[Approval]:
        count = self.count
        if (
            self.list_id != id(approvals)
            or count > len(approvals)
            or (count and approvals[count - 1] is not self.last)
        ):
            self.by_page, self.count, self.last, self.list_id = {}, 0, None, id(approvals)
            count = 0
        if count < len(approvals):
            for approval in approvals[count:]:
                self.by_page.setdefault(approval.page_id, []).append(approval)
            self.count, self.last = len(approvals), approvals[-1]
        return self.by_page.get(page_id, [])


class World(BaseModel):
    """Everything the sandbox knows; one JSON document when persisted."""

    format: int = 1
    clock_offset_seconds: float = 0.0
    switches: Switches = Field(default_factory=Switches)
    users: dict[str, User] = Field(default_factory=dict)
    sites: dict[str, Site] = Field(default_factory=dict)
    spaces: dict[str, Space] = Field(default_factory=dict)
    workflows: dict[str, Workflow] = Field(default_factory=dict)
    pages: dict[str, Page] = Field(default_factory=dict)
    approvals: list[Approval] = Field(default_factory=list)
    change_sets: dict[str, ChangeSet] = Field(default_factory=dict)
    codes: dict[str, AuthCode] = Field(default_factory=dict)
    families: dict[str, Family] = Field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = Field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = Field(default_factory=dict)
    # Each page's submissions, oldest first, beside `approvals`: every submit, preflight and
    # read looks a page's latest up, and a scan of every approval ever made grew with the world.
    _index: PageIndex = PrivateAttr(default_factory=PageIndex)

    def approvals_of(self, page_id: str) -> list[Approval]:
        """The page's submissions, oldest first."""
        return self._index.of(self.approvals, page_id)


class Call(BaseModel):
    """One recorded call to an emulated endpoint (not persisted)."""

    at: datetime
    method: str
    path: str
    endpoint: str
    params: dict[str, str]
    body: Any
    account_id: str | None
    client_id: str | None
    status: int
