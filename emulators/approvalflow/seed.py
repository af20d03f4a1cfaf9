"""The seeded world: 6 people, 2 sites, 3 spaces, 23 pages, 5 workflows and 8 change sets.

Every review state is reached through the same functions the API and admin routes use
(create, submit, decide, edit), so rollup states are computed, never written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from emulators.approvalflow import reviews
from emulators.approvalflow.models import Page, Site, Space, Step, User, Workflow, World

SITE_ID = "2f6a4c1e-8b3d-4e5f-9a70-1c2d3e4f5a60"
SITE_URL = "https://sandbox.atlassian.net"
OTHER_SITE_ID = "7c9e1b2a-3d4f-4a5b-8c6d-0e1f2a3b4c5d"
OTHER_SITE_URL = "https://other-sandbox.atlassian.net"
AVATAR = "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png"

ALICE = "712020:5d3e0a11-ce00-4c1a-9f00-000000000001"
BOB = "712020:5d3e0b0b-0000-4c1a-9f00-000000000002"
CAROL = "712020:5d3e0ca1-0000-4c1a-9f00-000000000003"
DAVE = "712020:5d3e0da7-0000-4c1a-9f00-000000000004"
ERIN = "712020:5d3e0e11-0000-4c1a-9f00-000000000005"
FRANK = "712020:5d3e0f4a-0000-4c1a-9f00-000000000006"

RESTRICTED_PAGE = "65603"  # Session management: Dave cannot see it
ENG_SPACE = "98301"
QMS_SPACE = "98302"
DOCS_SPACE = "98303"  # product documentation: pages, no change set yet

_USERS = (
    (ALICE, "Alice Anders", "alice", "Technical Writer", "Engineering"),
    (BOB, "Bob Baker", "bob", "Staff Engineer", "Engineering"),
    (CAROL, "Carol Chen", "carol", "Engineering Manager", "Engineering"),
    (DAVE, "Dave Diaz", "dave", "QA Lead", "Quality"),
    (ERIN, "Erin Evans", "erin", "Compliance Officer", "Quality"),
    (FRANK, "Frank Fischer", "frank", "Head of Quality", "Quality"),
)

# (page id, space, title, version, status, explicit workflow)
_PAGES: tuple[
    tuple[str, str, str, int, Literal["current", "draft", "deleted"], str | None], ...
] = (
    ("65601", ENG_SPACE, "Authentication overview", 7, "current", None),
    ("65602", ENG_SPACE, "OAuth client setup", 3, "current", None),
    ("65603", ENG_SPACE, "Session management", 12, "current", None),
    ("65604", ENG_SPACE, "REST API reference", 21, "current", None),
    ("65605", ENG_SPACE, "Webhooks (deprecated)", 4, "current", None),
    ("65606", ENG_SPACE, "Onboarding guide", 9, "current", None),
    ("65607", ENG_SPACE, "Local development setup", 5, "current", None),
    ("65608", ENG_SPACE, "Incident response runbook", 14, "current", None),
    ("65609", ENG_SPACE, "On-call handbook", 6, "current", None),
    ("65610", ENG_SPACE, "Release notes 4.2", 2, "current", None),
    ("65611", ENG_SPACE, "Architecture decision records", 8, "current", None),
    ("65701", QMS_SPACE, "SOP-001 Document control", 5, "current", "wf-qms-sop"),
    ("65702", QMS_SPACE, "POL-002 Records retention policy", 3, "current", "wf-qms-policy"),
    ("65703", QMS_SPACE, "SOP-004 Supplier qualification", 6, "current", "wf-qms-sop"),
    ("65704", QMS_SPACE, "POL-005 Data integrity policy", 2, "current", "wf-qms-policy"),
    ("65705", QMS_SPACE, "WI-010 Label printing", 1, "current", None),
    ("65706", QMS_SPACE, "WI-011 Line clearance", 4, "current", "wf-qms-sop"),
    ("65707", QMS_SPACE, "WI-012 Retired inspection form", 3, "deleted", "wf-qms-policy"),
    ("65708", QMS_SPACE, "SOP-013 Training records", 2, "current", "wf-qms-policy"),
    ("65709", QMS_SPACE, "WI-014 Calibration steps (draft)", 1, "draft", "wf-qms-sop"),
    ("65710", QMS_SPACE, "POL-015 Access control policy", 1, "current", None),
    ("65801", DOCS_SPACE, "Getting started", 11, "current", None),
    ("65802", DOCS_SPACE, "Release process", 4, "current", None),
)

# (id, space, title, summary, pages)
_CHANGE_SETS = (
    (
        "cs-eng184",
        ENG_SPACE,
        "PR-184 Auth docs update",
        "Auth docs for the new SSO flow",
        ["65601", "65602", "65603"],
    ),
    (
        "cs-eng190",
        ENG_SPACE,
        "PR-190 API reference refresh",
        "v3 endpoints documented",
        ["65604", "65605"],
    ),
    ("cs-eng201", ENG_SPACE, "PR-201 Onboarding refresh", "New starter path", ["65606", "65607"]),
    ("cs-eng170", ENG_SPACE, "PR-170 Runbook updates", "Paging policy changes", ["65608", "65609"]),
    ("cs-eng150", ENG_SPACE, "PR-150 Release 4.2 notes", "Release notes", ["65610"]),
    (
        "cs-qms012",
        QMS_SPACE,
        "CAPA-12 Document control revisions",
        "Audit finding 12",
        ["65701", "65702"],
    ),
    (
        "cs-qms015",
        QMS_SPACE,
        "CAPA-15 Supplier and data integrity",
        "Audit finding 15",
        ["65703", "65704"],
    ),
    (
        "cs-qms033",
        QMS_SPACE,
        "DOC-33 Work instruction refresh",
        "Line documents",
        ["65705", "65706", "65707", "65708", "65709"],
    ),
)


def seed_world(now: datetime) -> World:
    """A fresh world whose history happened over the last three days before `now`."""
    world = World()
    for site_id, url, name in (
        (SITE_ID, SITE_URL, "sandbox"),
        (OTHER_SITE_ID, OTHER_SITE_URL, "other-sandbox"),
    ):
        world.sites[site_id] = Site(id=site_id, url=url, name=name, avatar_url=AVATAR)
    for account_id, name, nick, title, department in _USERS:
        world.users[account_id] = User(
            account_id=account_id,
            name=name,
            email=f"{nick}@example.com",
            nickname=nick,
            job_title=title,
            department=department,
            site_ids=[SITE_ID],
        )
    world.spaces[ENG_SPACE] = Space(
        id=ENG_SPACE, key="ENG", name="Engineering Docs", site_id=SITE_ID
    )
    world.spaces[QMS_SPACE] = Space(
        id=QMS_SPACE, key="QMS", name="Quality Management System", site_id=SITE_ID
    )
    world.spaces[DOCS_SPACE] = Space(
        id=DOCS_SPACE, key="DOCS", name="Product Documentation", site_id=SITE_ID
    )
    for workflow in (
        # ENG has one active workflow, so its pages need no explicit assignment.
        Workflow(
            id="wf-eng-review",
            space_id=ENG_SPACE,
            name="Engineering review",
            steps=[Step(approvers=[BOB, CAROL])],
        ),
        Workflow(
            id="wf-eng-legacy",
            space_id=ENG_SPACE,
            name="Legacy sign-off",
            steps=[Step(approvers=[FRANK])],
            active=False,
        ),
        # QMS has two, so a page without an assignment is blocked.
        Workflow(
            id="wf-qms-sop",
            space_id=QMS_SPACE,
            name="SOP approval",
            steps=[Step(approvers=[CAROL, DAVE], mode="all"), Step(approvers=[ERIN])],
        ),
        Workflow(
            id="wf-docs-review",
            space_id=DOCS_SPACE,
            name="Documentation review",
            steps=[Step(approvers=[BOB, CAROL])],
        ),
        Workflow(
            id="wf-qms-policy",
            space_id=QMS_SPACE,
            name="Policy approval",
            steps=[Step(approvers=[ERIN, FRANK])],
        ),
    ):
        world.workflows[workflow.id] = workflow
    for page_id, space_id, title, version, status, workflow_id in _PAGES:
        world.pages[page_id] = Page(
            id=page_id,
            space_id=space_id,
            title=title,
            version=version,
            status=status,
            workflow_id=workflow_id,
            edited_by=ERIN if space_id == QMS_SPACE else ALICE,
            edited_at=now - timedelta(days=4),
        )
    # A page restriction keeps Dave (QA) out of one engineering page: Confluence leaves it out
    # of everything Dave's token reads.
    world.pages[RESTRICTED_PAGE].hidden_from.append(DAVE)
    _play_history(world, now)
    return world


def _play_history(world: World, now: datetime) -> None:
    created, submitted = now - timedelta(days=3), now - timedelta(days=2)
    decided, edited = now - timedelta(days=1), now - timedelta(hours=2)
    for change_set_id, space_id, title, summary, page_ids in _CHANGE_SETS:
        reviews.create_change_set(
            world,
            space_id,
            {
                "title": title,
                "summary": summary,
                "referenceUrl": f"https://git.example.com/docs/pull/{title.split()[0]}",
                "pageRefs": [{"pageId": page_id} for page_id in page_ids],
            },
            account_id=ALICE,
            now=created,
            change_set_id=change_set_id,
        )
    # SOP-013 is already pending from a single-page submit, which blocks it in DOC-33.
    reviews.submit(
        world,
        world.pages["65708"],
        change_set_id=None,
        account_id=FRANK,
        client_id=None,
        now=submitted,
    )
    for change_set_id in (
        "cs-eng190",
        "cs-eng201",
        "cs-eng170",
        "cs-eng150",
        "cs-qms012",
        "cs-qms015",
    ):
        reviews.submit_change_set(
            world, world.change_sets[change_set_id], account_id=ALICE, client_id=None, now=submitted
        )

    def approve(page_id: str, *reviewers: str) -> None:
        for reviewer in reviewers:
            reviews.decide(
                world, page_id, account_id=reviewer, outcome="approved", comment="", now=decided
            )

    approve("65606", BOB)  # PR-201: partially approved, 65607 still pending
    approve("65608", CAROL)
    approve("65609", BOB)
    approve("65610", BOB)
    approve("65701", CAROL, DAVE, ERIN)  # both steps of the SOP workflow
    approve("65702", ERIN)
    approve("65704", FRANK)
    reviews.decide(
        world,
        "65703",
        account_id=CAROL,
        outcome="rejected",
        comment="Supplier list is missing the 2026 audit results.",
        now=decided,
    )
    # Editing an approved page voids its approval: PR-170 becomes stale.
    reviews.edit_page(world, "65608", by=BOB, at=edited)
    reviews.archive_change_set(world.change_sets["cs-eng150"], edited)
