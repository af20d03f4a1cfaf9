"""Every user-facing sentence of the Slack side in one module (the help text is the contract)."""

from __future__ import annotations

HELP_USAGE: list[tuple[str, str]] = [
    ("help", "show this help"),
    ("connect", "link your Atlassian account (each person links their own)"),
    ("disconnect", "remove your Atlassian link"),
    ("enroll", "set up your Approval Token (an authenticator app) by DM"),
    ("status", "your link and Approval Token status"),
    ("lost", "revoke your Approval Token now (lost or compromised phone)"),
    (
        "request <change-set-id|page-id|page-url> [@reviewers|@group] [#channel]",
        "ask for sign-off to submit a change set or page for review",
    ),
    ("pending", "requests you may sign"),
    ("approve <request-id>", "sign off a request with your Approval Token"),
    ("reject <request-id>", "reject a request, with a reason"),
    ("watch <space-id> [#channel]", "admins: post a request for each new change set in a space"),
    ("unwatch <space-id>", "admins: stop watching a space"),
    (
        "tokens [active|expiring|expired|pending|locked|unlinked|@user]",
        "admins: who is enrolled, expiring, locked or unlinked",
    ),
    ("tokens export", "admins: the token table as CSV in your DM"),
    ("audit [export] [--since YYYY-MM-DD]", "admins: the signed audit trail"),
]

HELP_TITLE = (
    "*Approvals*: sign off ApprovalFlow submissions from Slack, signed with your Approval Token."
)
SANDBOX_NOTE = (
    "sandbox: this bot runs against the built-in ApprovalFlow sandbox, not a real Confluence site."
)
UNEXPECTED_ERROR = (
    "Something went wrong on our side and nothing was changed. Please try again; "
    "if it keeps happening, tell your Slack admin (reference {ref})."
)
STORE_DOWN = (
    "The bot's storage is not answering right now, so nothing was changed. "
    "Please try again in a minute (reference {ref})."
)
UPSTREAM_DOWN = "ApprovalFlow did not answer properly: {detail}. Nothing was signed; try again."


def help_text(command: str = "/approvals") -> str:
    lines = [HELP_TITLE, ""]
    lines += [f"`{command} {usage}`  {what}" for usage, what in HELP_USAGE]
    return "\n".join(lines)


def unknown_subcommand(name: str) -> str:
    return f"`{name}` is not a command I know."


def missing_argument(usage: str) -> str:
    return f"That needs more: `/approvals {usage}`."
