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
UPSTREAM_DOWN = (
    "An outside service did not answer properly: {detail}. Nothing was changed; try again."
)
UPSTREAM_UNKNOWN = (
    "An outside service stopped answering part-way: {detail}. The change may have gone through; "
    "check before you try again."
)


def help_text(command: str = "/approvals") -> str:
    lines = [HELP_TITLE, ""]
    lines += [f"`{command} {usage}`  {what}" for usage, what in HELP_USAGE]
    return "\n".join(lines)


def unknown_subcommand(name: str) -> str:
    return f"`{name}` is not a command I know."


def missing_argument(usage: str) -> str:
    return f"That needs more: `/approvals {usage}`."


# --- Atlassian link: connect, disconnect, status, DMs and the callback pages (issue 3) -------

CONNECT_BUTTON = "Connect Atlassian"
CONNECT_TEXT = (
    "*Link your Atlassian account.* Everything you do with this bot then runs as you in "
    "ApprovalFlow, so its audit trail shows your name. The button opens Atlassian's consent "
    "page; sign in as yourself and allow access. It works once, until {until}."
)
CONNECT_REPLACES = "You are linked as *{name}* on {site}; connecting again replaces that link."
CONNECT_REPAIRS = (
    "Your link as *{name}* on {site} has stopped working; connecting again repairs it."
)
CONNECT_FALLBACK = (
    "Link your Atlassian account: <{url}|open Atlassian's consent page> (works once)."
)
NO_ARGUMENTS = "`{name}` takes no arguments: each person links and unlinks only their own account."
DISCONNECTED = (
    "Your Atlassian link (*{name}* on {site}) is removed and its tokens are deleted. Atlassian "
    "offers apps no way to revoke their own access, so to finish, remove this app under your "
    "Atlassian account's *Connected apps* ({apps_url})."
)
NOTHING_TO_DISCONNECT = "You have no Atlassian link, so there is nothing to disconnect."
CONNECTED_APPS_URL = "https://id.atlassian.com/manage-profile/apps"

STATUS_TITLE = "*Your approvals status*"
LINK_NONE = "*Atlassian link*: not linked. Run `/approvals connect` to link your account."
LINK_OK = "*Atlassian link*: :white_check_mark: linked"
LINK_BROKEN = (
    "*Atlassian link*: :warning: broken since {since} (Atlassian refused to renew it). "
    "Run `/approvals connect` to link your account again."
)
LINK_DETAILS = (
    "Site: {site}\n"
    "Account: {account}\n"
    "Permissions granted: {granted}\n"
    "Permissions missing: {missing}\n"
    "Last refreshed: {refreshed} (linked {linked})"
)
LINK_MISSING_NONE = "none"

LINKED_DM = (
    ":white_check_mark: Your Atlassian account *{account}* on {site} is now linked. "
    "What you sign in Slack will run as you in ApprovalFlow. `/approvals status` shows the link; "
    "`/approvals disconnect` removes it."
)
LINKED_DM_MISSING = (
    "Atlassian did not grant {missing}; actions needing it will ask you to connect again."
)
BROKEN_DM = (
    ":warning: Your Atlassian link on {site} has stopped working: Atlassian refused to renew it "
    "(it was revoked, or unused for too long). Run `/approvals connect` to link your account again."
)

# The browser page after Atlassian sends the person back: reason -> (title, text).
LINK_PAGE_CLOSE = "You can close this tab and go back to Slack."
LINK_PAGES: dict[str, tuple[str, str]] = {
    "linked": (
        "Your Atlassian account is linked",
        "The bot will act as you in ApprovalFlow. A message in Slack confirms the link.",
    ),
    "denied": (
        "Nothing was linked",
        "You chose not to allow access. Run /approvals connect in Slack when you are ready.",
    ),
    "authorize_failed": (
        "Nothing was linked",
        "Atlassian did not authorize the link. Run /approvals connect in Slack to try again; "
        "if it keeps failing, tell your Slack admin.",
    ),
    "bad_request": (
        "Nothing was linked",
        "This sign-in answer was incomplete or malformed. Run /approvals connect in Slack and "
        "use the new button.",
    ),
    "state_invalid": (
        "This sign-in link cannot be used",
        "It is unknown, was already used, or is older than 10 minutes, so nothing was linked. "
        "Run /approvals connect in Slack for a new one.",
    ),
    "wrong_site": (
        "Nothing was linked",
        "The access you granted does not include {site}. Run /approvals connect in Slack again "
        "and choose {site} on Atlassian's consent page.",
    ),
    "email_mismatch": (
        "Nothing was linked",
        "The Atlassian account you allowed does not have the email address of your Slack "
        "profile. Sign in to Atlassian as yourself and run /approvals connect again.",
    ),
    "account_taken": (
        "Nothing was linked",
        "That Atlassian account is already linked to another Slack user. Each person links "
        "their own account; the other user can run /approvals disconnect.",
    ),
    "missing_scope": (
        "Nothing was linked",
        "Atlassian did not grant the permissions the bot needs to link (your profile and "
        "offline access). Run /approvals connect again and allow every permission asked for.",
    ),
    "code_rejected": (
        "Nothing was linked",
        "Atlassian refused the sign-in (it expired or was already used). Run /approvals "
        "connect in Slack for a new one.",
    ),
    "client_rejected": (
        "Nothing was linked",
        "Atlassian refused the bot's own app credentials. This is not something you can fix: "
        "tell your Slack admin (ATLASSIAN_CLIENT_ID / ATLASSIAN_CLIENT_SECRET).",
    ),
    "unavailable": (
        "Nothing was linked",
        "Atlassian or the bot's storage did not answer properly. Run /approvals connect in "
        "Slack again in a few minutes.",
    ),
    "unknown": ("Nothing to show here", "Run /approvals connect in Slack to link your account."),
    "error": (
        "Something went wrong",
        "Nothing was linked. Please try again; if it keeps happening, tell your Slack admin "
        "(reference {ref}).",
    ),
}


# --- Approval Token: enroll, the code modal, lost, status, DMs, alerts (issue 5) --------------

TOKEN_NO_ARGUMENTS = "`{name}` takes no arguments: it always acts on your own Approval Token."
ENROL_NEEDS_LINK = (
    "*Link your Atlassian account first.* Your Approval Token is named after your Atlassian "
    "email in your authenticator app, and what you sign runs as you in ApprovalFlow. Press "
    "*Connect Atlassian* (or run `/approvals connect`), then run `/approvals enroll` again."
)
ENROL_CONNECT_BUTTON = "Connect Atlassian"
ENROL_SENT = (
    ":iphone: I sent you a direct message with a QR code for your authenticator app. Scan it "
    "(or type the setup key), then press *Enter code* there before {until}. "
    "If you had an Approval Token before, it has stopped working."
)
ENROL_GONE = (
    "That enrolment was replaced or expired before I could finish it, so I removed its QR code. "
    "Run `/approvals enroll` again."
)
ENROL_DM_FALLBACK = (
    "Set up your Approval Token: scan the QR code or type the setup key shown here, then press "
    "Enter code."
)
ENROL_DM_INTRO = (
    "*Set up your Approval Token*\n"
    "1. Open your authenticator app (Google Authenticator, 1Password, Authy …) and add an "
    "account by scanning the QR code above.\n"
    "2. Or, if you cannot scan, add it by hand with this *setup key* (time-based):"
)
ENROL_DM_KEY = "`{key}`"
ENROL_DM_ACCOUNT = "It shows up as *ApprovalFlow* ({label}). Codes have 6 digits and last 30 s."
ENROL_DM_STEP = "3. Press *Enter code* and type the 6-digit code the app shows now."
ENROL_DM_NOTE = (
    "Confirm before {until} or this enrolment expires. Once confirmed, or expired, I delete this "
    "message and the QR code. Never share the setup key or the QR code."
)
ENTER_CODE_BUTTON = "Enter code"
QR_FILE_TITLE = "Approval Token QR code"
QR_ALT_TEXT = "QR code that adds your ApprovalFlow Approval Token to an authenticator app"

CODE_MODAL_TITLE = "Approval Token"
CODE_MODAL_SUBMIT = "Activate"
CODE_MODAL_CLOSE = "Cancel"
CODE_MODAL_TEXT = (
    "Type the 6-digit code your authenticator app shows for *ApprovalFlow*. "
    "A correct code activates your Approval Token."
)
CODE_LABEL = "6-digit code"
CODE_PLACEHOLDER = "123 456"
CODE_HINT = "A new code appears every 30 seconds; spaces are fine."
ACTIVATED_MODAL_CLOSE = "Done"
ACTIVATED_TEXT = (
    ":white_check_mark: Your Approval Token is active until *{until}*. You will type a code "
    "from your authenticator app each time you sign."
)
ACTIVATED_CLEANUP = "I deleted the QR code and the setup key from our direct messages."
ACTIVATED_DM = (
    ":white_check_mark: Your Approval Token is active until {until}. Type the 6-digit code of "
    "your authenticator app whenever you sign. Lost your phone? Run `/approvals lost` at once."
)

LOST_DONE = (
    ":lock: Your Approval Token is revoked: no code from it will sign anything, and the security "
    "team has been told. When you have a device again, run `/approvals enroll` to set up a new "
    "one."
)
LOST_ALERT = (
    "<@{user}> reported their Approval Token lost with `/approvals lost`; it was revoked "
    "(it was {previous})."
)
LOCKED_DM = (
    ":lock: Too many wrong Approval Token codes: signing is locked until {until}. If those "
    "attempts were not yours, tell your security team and run `/approvals lost`."
)
LOCKED_ALERT = (
    "Approval Token of <@{user}> locked until {until} after too many wrong codes "
    "(possible unauthorised use, 21 CFR 11.300(d))."
)

ENROLMENT_EXPIRED_DM = (
    "Your Approval Token enrolment expired: it was not confirmed with a code within 10 minutes, "
    "so I deleted its QR code and setup key. Run `/approvals enroll` to start again."
)
EXPIRY_REMINDER_DM = (
    ":hourglass: Your Approval Token expires {when} ({until}); after that it cannot sign. Run "
    "`/approvals enroll` to set up a new one (the current one stops working as soon as you do), "
    "or ask an admin to extend it."
)

TOKEN_STATUS = "*Approval Token*: {describe}"
TOKEN_STATUS_NEXT: dict[str, str] = {
    "not enrolled": "Run `/approvals enroll` to set one up.",
    "pending": "Press *Enter code* in the direct message I sent you.",
    "expired": "Run `/approvals enroll` to renew it.",
    "revoked": "Run `/approvals enroll` to set up a new one.",
    "locked": "Wait until then, or ask an admin to unlock it.",
}
