"""The playground's people, channels and user groups; emails match the sandbox's accounts."""

from __future__ import annotations

from emulators.slack.emulator import FakeSlack, FakeUsergroup

TEAM_ID = "T0PLAYGRND"
TEAM_NAME = "Playground"
DOCS_CHANNEL = "C0DOCS"
GENERAL_CHANNEL = "C0GENERAL"

# (Slack id, handle, real name, is workspace admin). Every email is handle@example.com, as in
# the ApprovalFlow sandbox, so linking matches people by email; Ada has no Atlassian account.
PEOPLE = (
    ("U0ALICE", "alice", "Alice Anders", False),
    ("U0BOB", "bob", "Bob Baker", False),
    ("U0CAROL", "carol", "Carol Chen", False),
    ("U0DAVE", "dave", "Dave Diaz", False),
    ("U0ERIN", "erin", "Erin Evans", False),
    ("U0FRANK", "frank", "Frank Fischer", False),
    ("U0ADA", "ada", "Ada Admin", True),
)
CHANNELS = {DOCS_CHANNEL: "docs-approvals", GENERAL_CHANNEL: "general"}
GROUPS = (
    ("S0DOCREV", "doc-reviewers", "Documentation reviewers", ["U0BOB", "U0CAROL"]),
    ("S0QUALITY", "quality", "Quality team", ["U0DAVE", "U0ERIN", "U0FRANK"]),
)


def seed_workspace(slack: FakeSlack) -> None:
    """A fresh workspace: the people, two channels, two user groups."""
    for user_id, handle, real_name, admin in PEOPLE:
        slack.add_user(
            user_id, name=handle, real_name=real_name, email=f"{handle}@example.com", is_admin=admin
        )
    slack.channel_names.update(CHANNELS)
    for group_id, handle, name, members in GROUPS:
        slack.usergroups[group_id] = FakeUsergroup(group_id, handle, name, list(members))
