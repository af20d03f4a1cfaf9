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
        "request <change-set-id|page-id|page-url> [--policy NAME] [@reviewers|@group] [#channel]",
        "ask for sign-off to submit a change set or page for review",
    ),
    ("policies", "the signing policies: stages, who signs, what each signature means"),
    (
        "reassign <request-id> @from @to [reason]",
        "requester or admins: a named signer who cannot sign is replaced",
    ),
    ("pending", "requests you may sign"),
    ("approve <request-id>", "sign off a request with your Approval Token"),
    ("reject <request-id>", "reject a request, with a reason"),
    (
        "watch <space-key|space-id> [--policy NAME] [#channel]",
        "admins: post a request for each new change set in a space",
    ),
    ("unwatch <space-key|space-id>", "admins: stop watching a space"),
    (
        "tokens [active|expiring|expired|pending|locked|unlinked|@user]",
        "admins: who is enrolled, expiring, locked or unlinked",
    ),
    ("tokens export", "admins: the token table as CSV in your DM"),
    ("audit [export] [--since YYYY-MM-DD]", "admins: the signed audit trail"),
    (
        "evidence <request-id>",
        "the signature evidence report (PDF) of a request, in your DM: for its requester, "
        "signers and admins",
    ),
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


# --- Atlassian link: connect, disconnect, status, DMs and the callback pages ----------------

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
LINK_GRANT_MISSING = (
    "Your link works for what it was granted; to grant the permissions missing above, connect "
    "again (it replaces your link, nothing else changes)."
)
LINK_CONNECT_AGAIN = "Connect again to make your link work."

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


# --- Approval Token: enroll, the code modal, lost, status, DMs, alerts --------------

OWN_ONLY_NO_ARGUMENTS = "`{name}` takes no arguments: it always acts on your own Approval Token."
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

ENROLMENT_STATUS = "*Approval Token*: {describe}"
ENROLMENT_STATUS_NEXT: dict[str, str] = {
    "not enrolled": "Run `/approvals enroll` to set one up.",
    "pending": "Press *Enter code* in the direct message I sent you.",
    "expired": "Run `/approvals enroll` to renew it.",
    "revoked": "Run `/approvals enroll` to set up a new one.",
    "locked": "Wait until then, or ask an admin to unlock it.",
}


# --- Admin: /approvals tokens and /approvals audit ---------------------------------

TOKENS_TITLE = "Approval Tokens"
TOKENS_LOADING = ":hourglass_flowing_sand: Reading every Approval Token and Atlassian link…"
TOKENS_EMPTY = "Nobody matches this filter."
TOKENS_PAGE = (
    "Showing {selection}: {first}–{last} of {total} · page {page} of {pages} · times in UTC"
)
# What each `/approvals tokens` filter keeps, after its word in the listing's heading.
TOKENS_FILTER_MEANINGS: dict[str, str] = {
    "all": "everyone the bot knows",
    "active": "Approval Token active (expiring ones included)",
    "expiring": "active, expiring within {days} days",
    "expired": "Approval Token past its expiry",
    "pending": "enrolled, waiting for the first code",
    "locked": "locked after too many wrong codes",
    "unlinked": "no working Atlassian link (not linked, broken or unreadable)",
}
TOKENS_FILTER_LABELS: dict[str, str] = {
    "all": "Everyone",
    "active": "Active",
    "expiring": "Expiring within {days} days",
    "expired": "Expired",
    "pending": "Pending (not confirmed)",
    "locked": "Locked",
    "unlinked": "No working Atlassian link",
}
TOKENS_BAD_FILTER = (
    "`{word}` is not something `/approvals tokens` understands: use {choices}, `@user` or `export`."
)
TOKENS_TOO_MANY = "`/approvals tokens` takes one filter, one `@user` or `export`, not `{words}`."
TOKENS_PLAIN_AT = (
    "`{word}` is not a mention I can read: pick the person from Slack's list as you type `@`, "
    "so the command carries their member ID."
)
TOKENS_EXPORT_SENT = (
    ":inbox_tray: The Approval Token table ({rows} people) is in our direct messages as "
    "`{filename}`."
)
TOKENS_EXPORT_COMMENT = "Approval Token table at {when}: {summary}"

ADMIN_ACTION_LABELS: dict[str, str] = {
    "extend": "Extend expiry…",
    "reset": "Reset (revoke)…",
    "unlock": "Unlock…",
}
ADMIN_CONFIRM_TITLES: dict[str, str] = {
    "extend": "Extend Approval Token",
    "reset": "Reset Approval Token",
    "unlock": "Unlock Approval Token",
}
ADMIN_CONFIRM: dict[str, str] = {
    "extend": (
        "*Extend {user}'s Approval Token?* The new expiry counts from the current one (from now "
        "if it has passed). Their authenticator app keeps working as it is."
    ),
    "reset": (
        "*Reset {user}'s Approval Token?* It is revoked at once: they cannot sign until they "
        "enrol again with `/approvals enroll`, which only they can do, in their own direct "
        "messages. Nobody, admins included, ever sees their secret."
    ),
    "unlock": (
        "*Unlock {user}'s Approval Token?* This clears the lock and the failed-attempt count; "
        "the token itself does not change. If the wrong codes were not theirs, reset instead."
    ),
}
ADMIN_DAYS_LABEL = "Extend by how many days?"
ADMIN_DAYS_HINT = "A whole number of days, from 1 to {max}."
ADMIN_REASON_LABEL = "Reason (recorded in the audit trail)"
ADMIN_RECORDED = "Recorded in the audit trail with you as the actor; the person gets a DM."
ADMIN_WORKING = ":hourglass_flowing_sand: Checking and applying…"
ADMIN_DONE: dict[str, str] = {
    "extend": ":white_check_mark: {user}'s Approval Token now expires {expires}.",
    "reset": (
        ":white_check_mark: {user}'s Approval Token is revoked. They can sign again only after "
        "they run `/approvals enroll` themselves."
    ),
    "unlock": ":white_check_mark: {user}'s Approval Token is unlocked.",
}
ADMIN_BAD_FORM = "That admin form is damaged or out of date; run `/approvals tokens` again."

ADMIN_EXTENDED_DM = "An admin ({admin}) extended your Approval Token: it now expires {expires}."
ADMIN_RESET_DM = (
    ":warning: An admin ({admin}) reset your Approval Token, so it no longer signs. To sign "
    "again, run `/approvals enroll` and set it up again in your authenticator app."
)
ADMIN_UNLOCKED_DM = (
    "An admin ({admin}) unlocked your Approval Token; you can sign with it again. If the wrong "
    "codes were not yours, run `/approvals lost` and tell your security team."
)

AUDIT_TITLE = "Audit trail"
AUDIT_INTACT = ":white_check_mark: Chain verified: {result}"
AUDIT_BROKEN = (
    ":rotating_light: Chain verification FAILED: {result}. Treat entries from there on as "
    "untrusted and run `approvals-bot audit verify` on the server."
)
AUDIT_NEWEST = (
    "The newest {shown} of {matched} entries, oldest first; times in UTC. "
    "`/approvals audit export` has every field."
)
AUDIT_EMPTY = "No entries in this period."
AUDIT_BAD_WORD = (
    "`{word}` is not something `/approvals audit` understands: use `export`, "
    "`--since YYYY-MM-DD` and, with export, `--format csv` or `--format jsonl`."
)
AUDIT_BAD_DATE = "`{value}` is not a date: write it as `--since YYYY-MM-DD`, e.g. `2026-01-31`."
AUDIT_BAD_FORMAT = "`{value}` is not an export format: use `csv` or `jsonl`."
AUDIT_NEEDS_VALUE = "`{flag}` needs a value: `{flag} {example}`."
AUDIT_REPEATED = "`{word}` is given twice."
AUDIT_FORMAT_ONLY_EXPORT = "`--format` goes with `/approvals audit export`."
AUDIT_EXPORT_SENT = (
    ":inbox_tray: The audit trail ({entries} entries{since}) is in our direct messages as "
    "`{filename}`."
)
AUDIT_EXPORT_COMMENT = "Audit trail export{since}: {entries} entries. {check}"


# --- Approval requests, signing and tracking ------------------------------------

REQUEST_USAGE = (
    "request <change-set-id|page-id|page-url> [--policy NAME] [@reviewers|@group] [#channel]"
)
REQUEST_ONE_TARGET = (
    "One target per request: I read `{first}` and `{second}`. Give one change set id, page id "
    "or page link."
)
REQUEST_PLAIN_MENTION = (
    "I can't tell who `{word}` is. Choose people and groups from Slack's suggestions as you "
    "type `@`, so Slack tells me who they are."
)
REQUEST_PLAIN_CHANNEL = (
    "I can't tell which channel `{word}` is. Choose it from Slack's suggestions as you type `#`."
)
REQUEST_ONE_CHANNEL = "Name one channel at most; I read two."
REQUEST_TOO_MANY_REVIEWERS = "Name at most {limit} reviewers and groups in one request."
REQUEST_NO_TITLES = (
    ":information_source: Confluence gave no page titles, so the request lists page ids. If your "
    "Atlassian link lacks `read:page:confluence`, `/approvals status` shows it and connects you "
    "again; later requests then show titles."
)
REQUEST_POSTED = (
    ":white_check_mark: I posted *{id}* in <#{channel}>. Reviewers sign it there with *Approve* "
    "or *Reject*, or with `/approvals approve {id}`."
)
REQUEST_NOTHING = ":no_entry_sign: *Nothing to sign off, so I posted nothing.*"
REQUEST_NOT_IN_CHANNEL = (
    "I can't post in <#{channel}>: invite me there first (`/invite @approvals`), or name "
    "another channel at the end of the command."
)
REQUEST_CHANNEL_GONE = (
    "Slack says <#{channel}> does not exist or is archived. Name another channel at the end of "
    "the command."
)
REQUEST_NEEDS_ID = "That needs a request id, like `/approvals {verb} AR-7K3Q`."
REQUEST_BAD_ID = (
    "`{value}` is not a request id. Request ids look like `AR-7K3Q`; the request message shows "
    "its id, and `/approvals pending` lists the ones you may sign."
)
REQUEST_ONE_ID = "Give one request id: `/approvals {verb} AR-7K3Q`."
FORGED_BUTTON = (
    "This button does not name a request I know, so nothing was opened. Use the buttons on the "
    "request message or `/approvals pending`."
)

# The request message (the channel's copy, rewritten in place on every change).
REQUEST_HEADER = "Sign-off request {id}"
REQUEST_FALLBACK = "{id}: sign-off to submit {target} ({title}) for review: {state}"
REQUEST_TARGET_LINE = "{what} · {pages}"
SPACE_LINE = "space {key} ({name})"
PAGE_UNTITLED = "Page {id}"  # Confluence was not asked (a link without read:page:confluence)
PAGE_RESTRICTED = "restricted page {id}"  # Confluence does not show it to this person
REQUEST_REFERENCE = "<{url}|Reference>"
REQUEST_PAGES_TITLE = "*Pages* (as preflighted when requested):"
REQUEST_PAGES_MORE = "…and {count} more"
REQUEST_PREFLIGHT = "*Preflight:* {submittable} submittable, {blocked} blocked"
PAGE_SUBMITTABLE = ":white_check_mark: submittable"
PAGE_BLOCKED = ":no_entry_sign: blocked: {reason}"
PAGE_BLOCKED_NO_REASON = "no reason given"
REQUEST_PEOPLE = "Requested by <@{requester}> · Reviewers: {reviewers} · `{id}`"
REQUEST_ANYONE = "anyone but the requester"
REQUEST_EXPIRES = "Open until {when}"
APPROVE_BUTTON = "Approve"
REJECT_BUTTON = "Reject"

STATE_PENDING = ":hourglass_flowing_sand: *Waiting for a signature.*"
STATE_PENDING_FAILED = (
    ":warning: *The last submit failed:* {error}\nThe request is still open: a reviewer can sign "
    "again to retry."
)
STATE_SUBMITTING = ":arrows_counterclockwise: *Signed; submitting to ApprovalFlow…*"
STATE_SUBMITTED = ":white_check_mark: *Approved and submitted for review in ApprovalFlow.*"
STATE_NOTE = ":information_source: {note}"
STATE_REJECTED = (
    ":x: *Rejected.* Nothing was submitted; the {target} is left as it is in ApprovalFlow."
)
STATE_EXPIRED = (
    ":hourglass: *Expired* on {when} without a signature; nothing was submitted. Run "
    "`/approvals request {target}` to ask again."
)
STATE_CLOSED = ":lock: *Closed.* Tracking has ended."
SHORT_STATES = {
    "pending": "waiting for a signature",
    "submitting": "submitting",
    "submitted": "approved and submitted",
    "rejected": "rejected",
    "expired": "expired",
    "closed": "closed",
}
# Review states ApprovalFlow reports after the submit (its change set rollup).
ROLLUP_STATES = {
    "open": ":white_circle: Review in ApprovalFlow: *open* (nothing submitted yet)",
    "in_review": ":mag: Review in ApprovalFlow: *in review*",
    "partially_approved": ":large_yellow_circle: Review in ApprovalFlow: *partially approved*",
    "all_approved": ":white_check_mark: Review in ApprovalFlow: *all pages approved*",
    "has_rejections": ":x: Review in ApprovalFlow: *has rejections*",
    "stale": (
        ":warning: Review in ApprovalFlow: *stale*: an approved page was edited after its "
        "approval. Ask for a new sign-off with `/approvals request {target}`."
    ),
    "archived": ":file_cabinet: Review in ApprovalFlow: *archived*",
}
ROLLUP_OTHER = ":grey_question: Review in ApprovalFlow: *{state}*"

SIGNATURES_TITLE = "*Signatures*"
DECISION_LABELS = {"approve": "Approved", "reject": "Rejected"}
SIGNATURE_LINE = ":black_nib: *{name}* (<@{user}>) · *{decision}* · {when}\n> {meaning}"
SIGNATURE_REASON = "\n> Reason: {text}"
SIGNATURE_COMMENT = "\n> Comment: {text}"
OUTCOME_SUBMITTED = "*Submitted* ({count}):"
OUTCOME_SKIPPED = "*Skipped* ({count}):"
OUTCOME_SKIPPED_LINE = "{page}: {reason}"

# The signing modal.
SIGN_TITLES = {"approve": "Approve {id}", "reject": "Reject {id}"}
SIGN_SUBMIT = {"approve": "Sign and approve", "reject": "Sign and reject"}
SIGN_CLOSE = "Cancel"
SIGN_DONE = "Done"
SIGN_LOADING = ":hourglass_flowing_sand: Loading the pages as they are now in ApprovalFlow…"
SIGN_RELOADING = (
    ":hourglass_flowing_sand: The pages changed since this form opened. Loading them again, so "
    "you can check what you sign…"
)
SIGN_SUBMITTING = (
    ":arrows_counterclockwise: Signature recorded; submitting to ApprovalFlow as you. This can "
    "take a few seconds; you may close this window, the request message will show the outcome."
)
SIGN_TARGET = "*{title}*\n{what} · requested by <@{requester}>"
SIGN_CHANGED = (
    ":warning: *These pages changed since the request was posted.* The versions below are the "
    "current ones: check them before you sign."
)
SIGN_RECONFIRM = (
    ":warning: *The pages changed while this form was open*, so nothing was signed. The "
    "versions below are the current ones: check them and sign again with a new code."
)
SIGN_PAGES_TITLE = "*Pages and versions you sign for* (taken just now):"
SIGN_CHANGES_TITLE = "*What changed* (since the last approved version, or since the request):"
SIGN_CHANGES_SINCE = "<{url}|changes since v{since}>"
SIGN_EDITED_BY = "last edited by {who}"
SIGN_EDITED_AT = "at {when}"
SIGN_EDITOR_ACCOUNT = "Atlassian account `{account}`"
SIGN_MEANING = "*Meaning of your signature:* {meaning}"
SIGN_ATTESTATION = (
    "Signing with your Approval Token is your electronic signature. It is recorded with your "
    "name, the time (UTC) and this meaning, and ApprovalFlow records the submit under your own "
    "Atlassian account."
)
SIGN_COMMENT_LABEL = "Comment (optional)"
SIGN_REASON_LABEL = "Reason for rejecting"
SIGN_REASON_HINT = "Required: 20 to 280 characters. The requester and the channel will see it."
SIGN_CODE_LABEL = "6-digit code from your authenticator app"
SIGN_CODE_HINT = "The ApprovalFlow entry; a new code appears every 30 seconds. Spaces are fine."
SIGN_CODE_PLACEHOLDER = "123 456"

SIGNED_SEE_MESSAGE = "The request message in <#{channel}> shows every signature and the outcome."

SIGN_PROBLEM_TITLE = "Cannot sign"
SIGN_SUBMIT_FAILED = (
    "*ApprovalFlow did not answer properly:* {detail}\nNothing was submitted and the "
    "request is still open. Try again in a minute with a new code."
)
SIGN_SUBMIT_UNKNOWN = (
    "*ApprovalFlow stopped answering part-way:* {detail}\nThe submit may have gone through: "
    "the bot is checking with ApprovalFlow and the request message will show the outcome. Do not "
    "sign again until it does."
)
SIGN_FORM_GONE = (
    "This form is out of date (it was opened before an update). Close it and press Approve or "
    "Reject on the request message again."
)
SIGN_CONNECT_BUTTON = "Connect Atlassian"
SIGN_ENROLL_BUTTON = "Set up Approval Token"
SIGN_NEEDS_TOKEN = {
    "not enrolled": (
        "You have no Approval Token yet, and signing needs one: it is the 6-digit code of an "
        "authenticator app on your phone. Press *Set up Approval Token* and follow the direct "
        "message I send you, then press Approve or Reject again."
    ),
    "pending": (
        "Your Approval Token is not active yet: press *Enter code* in the enrolment message I sent "
        "you (or set it up again below), then press Approve or Reject again."
    ),
    "expired": (
        "Your Approval Token expired on {when}, so it cannot sign. Press *Set up Approval Token* "
        "to renew it (or ask an admin to extend it), then press Approve or Reject again."
    ),
    "revoked": (
        "Your Approval Token was revoked on {when}, so it cannot sign. Press *Set up Approval "
        "Token* to set up a new one, then press Approve or Reject again."
    ),
    "locked": (
        "Too many wrong codes: your Approval Token is locked until {when}. Try again after that, "
        "or ask an admin to unlock it."
    ),
}
SIGN_ENROL_SENT = (
    ":iphone: I sent you a direct message with a QR code. Scan it with your authenticator app, "
    "press *Enter code* there before {until}, then press Approve or Reject on the request again."
)
SIGN_ENROL_NEEDS_LINK = (
    "Link your Atlassian account first: run `/approvals connect`, then press Approve or Reject "
    "again."
)
SIGN_CONNECT_NOTE = (
    "The button opens Atlassian's consent page; sign in as yourself and allow access. Then press "
    "Approve or Reject on the request again."
)

# /approvals pending and the App Home.
PENDING_TITLE = "*Requests you may sign* ({count})"
PENDING_NONE = "No requests are waiting for your signature."
PENDING_MORE = "…and {count} more; sign some of these first."
PENDING_LINE = "*{id}* · {title}\n{what} · requested by <@{requester}> · open until {until}"
HOME_PENDING_TITLE = "*Waiting for your signature*"

# Watched spaces (admins).
WATCH_USAGE = "watch <space-key|space-id> [--policy NAME] [#channel]"
UNWATCH_USAGE = "unwatch <space-key|space-id>"
WATCH_BAD_SPACE = (
    "`{value}` is not a space key or id. Give the space key (like `DOCS`, from the space's "
    "address …/wiki/spaces/DOCS/…) or its numeric id (like `98301`)."
)
SPACE_NAMED = "`{key}` ({name}, id {id})"
SPACE_BY_ID = "`{id}`"
WATCH_REFUSED = (
    "Only Slack workspace admins and owners, and the people named in ADMIN_USER_IDS, can use "
    "`/approvals {what}`. Nothing was changed."
)
WATCH_DONE = (
    ":eyes: Watching space {space}: each new open change set gets a sign-off request in "
    "<#{channel}>."
)
UNWATCH_DONE = ":see_no_evil: Stopped watching space {space}."
PENDING_FALLBACK = "{count} request(s) wait for your signature."
GROUP_UNKNOWN = (
    "Slack does not know the user group `{group}` (deleted or disabled?). Name people, or another "
    "group."
)
PENDING_NO_ARGUMENTS = "`pending` takes no arguments: it lists the requests you may sign."

# /approvals evidence and the Evidence (PDF) button.
EVIDENCE_USAGE = "evidence <request-id>"
EVIDENCE_ONE_ID = "Give one request id: `/approvals evidence AR-7K3Q`."
EVIDENCE_WORKING = "Making the evidence report of {id}; it will arrive in your DM."
EVIDENCE_SENT = (
    ":page_facing_up: The evidence report of {id} is in your DM: `{filename}` ({pages} pages, "
    "report {report}). Its SHA-256 is recorded in the audit trail."
)
EVIDENCE_COMMENT = (
    "Signature evidence report {report} of {id} ({pages} pages). SHA-256 `{sha256}`, recorded in "
    "the audit trail; `approvals-bot evidence verify FILE` checks a copy."
)
EVIDENCE_BUTTON = "Evidence (PDF)"

# Signing policies.
POLICIES_NO_ARGUMENTS = "`policies` takes no arguments: it lists the signing policies."
POLICY_MISSING_NAME = "`--policy` needs a policy name after it. Use `/approvals {usage}`."
POLICY_ONE = "Name one policy at most; I read two."
POLICIES_TITLE = "*Signing policies*"
POLICIES_SOURCE = "Read from {source} at start; the default is *{default}*."
POLICIES_BUILT_IN = (
    "No SIGNING_POLICIES file is set, so every request needs one signature: by the reviewers "
    "named in `/approvals request`, or by anyone but the requester."
)
POLICY_LINE = "*{name}*{default} · {description}"
STAGE_LINE = "{number}. *{name}*: {who} · “{meaning}”{escalation}"
STAGE_ESCALATION = " · escalates to {to} after {after}"
STAGES_TITLE = "*Signing stages* ({policy})"
STAGE_DONE = ":white_check_mark: {number}. *{name}*: signed ({progress})"
STAGE_OPEN = (
    ":hourglass_flowing_sand: {number}. *{name}*: {progress} signed, waiting · may sign: {who}"
)
STAGE_GROUP_LEFT = "{group} ({people})"  # a group's members who may still sign
STAGE_GROUP_NOBODY = "nobody left in it"
STAGE_PEOPLE_MORE = "+{count} more"
STAGE_LATER = ":white_circle: {number}. *{name}*: opens later, signed by {who}"
STAGE_STOPPED = ":black_circle: {number}. *{name}*: not signed ({who})"
STAGE_SIGNED_BY = "signed by {names}"
REASSIGN_USAGE = "reassign <request-id> @from @to [reason]"
REASSIGN_PEOPLE = (
    "Name the signer to replace and the new one by choosing them as you type `@`. "
    "Use `/approvals {usage}`."
)
REASSIGN_DONE = ":arrows_counterclockwise: *{id}*: <@{old}>'s signature is now <@{new}>'s to give."
