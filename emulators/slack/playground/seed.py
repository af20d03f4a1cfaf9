"""The playground's people, channels and user groups; emails match the sandbox's accounts."""

from __future__ import annotations

from emulators.slack.emulator import FakeSlack
from emulators.slack.records import FakeUsergroup

TEAM_ID = "T0PLAYGRND"
TEAM_NAME = "Playground"
DOCS_CHANNEL = "C0DOCS"
GENERAL_CHANNEL = "C0GENERAL"
RANDOM_CHANNEL = "C0RANDOM"

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
# (id, name, the app was added to it): in #random it was not, so posting there fails as in Slack.
CHANNELS = (
    (DOCS_CHANNEL, "docs-approvals", True),
    (GENERAL_CHANNEL, "general", True),
    (RANDOM_CHANNEL, "random", False),
)
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
    for channel_id, name, bot_member in CHANNELS:
        slack.add_channel(channel_id, name, bot_member=bot_member)
    for group_id, handle, name, members in GROUPS:
        slack.usergroups[group_id] = FakeUsergroup(group_id, handle, name, list(members))
