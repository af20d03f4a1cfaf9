"""The request message (posted, then rewritten in place), `/approvals pending`, the Home section."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from handlers.blocks.common import Block, context, plain, section
from handlers.blocks.linking import connect_button
from handlers.blocks.phrases import group_mention, mention, signers_list, signers_text, utc
from handlers.messages import (
    APPROVE_BUTTON,
    DECISION_LABELS,
    EVIDENCE_BUTTON,
    HOME_PENDING_TITLE,
    OUTCOME_SKIPPED,
    OUTCOME_SKIPPED_LINE,
    OUTCOME_SUBMITTED,
    PAGE_BLOCKED,
    PAGE_BLOCKED_NO_REASON,
    PAGE_RESTRICTED,
    PAGE_SUBMITTABLE,
    PAGE_UNTITLED,
    PENDING_FALLBACK,
    PENDING_LINE,
    PENDING_MORE,
    PENDING_NONE,
    PENDING_TITLE,
    POLICIES_BUILT_IN,
    POLICIES_SOURCE,
    POLICIES_TITLE,
    POLICY_LINE,
    REJECT_BUTTON,
    REQUEST_ANYONE,
    REQUEST_CHANNEL_GONE,
    REQUEST_EXPIRES,
    REQUEST_FALLBACK,
    REQUEST_HEADER,
    REQUEST_NO_TITLES,
    REQUEST_NOT_IN_CHANNEL,
    REQUEST_NOTHING,
    REQUEST_PAGES_MORE,
    REQUEST_PAGES_TITLE,
    REQUEST_PEOPLE,
    REQUEST_POSTED,
    REQUEST_PREFLIGHT,
    REQUEST_REFERENCE,
    REQUEST_TARGET_LINE,
    ROLLUP_OTHER,
    ROLLUP_STATES,
    SHORT_STATES,
    SIGNATURE_COMMENT,
    SIGNATURE_LINE,
    SIGNATURE_REASON,
    SIGNATURES_TITLE,
    SPACE_LINE,
    STAGE_DONE,
    STAGE_ESCALATION,
    STAGE_GROUP_LEFT,
    STAGE_GROUP_NOBODY,
    STAGE_LATER,
    STAGE_LINE,
    STAGE_OPEN,
    STAGE_PEOPLE_MORE,
    STAGE_SIGNED_BY,
    STAGE_STOPPED,
    STAGES_TITLE,
    STATE_CLOSED,
    STATE_EXPIRED,
    STATE_NOTE,
    STATE_PENDING,
    STATE_PENDING_FAILED,
    STATE_REJECTED,
    STATE_SUBMITTED,
    STATE_SUBMITTING,
)
from services.approvalflow.page_url import page_view_url
from services.approvalflow.targets import PageSnapshot, PageTarget, Target, TargetSnapshot
from services.requests.model import (
    ApprovalRequest,
    Decision,
    PageOutcome,
    Policy,
    Signature,
    Stage,
    Status,
)
from services.requests.policies import PolicyBook

APPROVE_ACTION = "request_approve"
REJECT_ACTION = "request_reject"
EVIDENCE_ACTION = "request_evidence"
# A request whose signing is over: its evidence report (PDF) is worth having from the message.
EVIDENCE_STATES = frozenset({Status.SUBMITTED, Status.CLOSED, Status.REJECTED, Status.EXPIRED})
MAX_PAGES_SHOWN = 10  # the issue: the first 10 pages, then "+N more"
MAX_PENDING_SHOWN = 15  # two blocks each, well inside a message's 50
MAX_REASON_SHOWN = 200  # ApprovalFlow's reasons are free text; keep a line a line
MAX_TITLE_SHOWN = 150
DEFAULT_MEANING = "I approve submitting these pages for review"
MAX_MEMBERS_SHOWN = 8  # a group's members named on a waiting stage; more are counted
SECTION_BUDGET = 2900  # Slack's 3000 per section text, with room for a "more" line


def esc(text: str) -> str:
    """Text from outside (titles, reasons, comments) as inert mrkdwn: no mentions, no links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MENTION = re.compile(r"&lt;(@[UW][A-Z0-9]{2,20}|!subteam\^S[A-Z0-9]{2,20})&gt;")


def esc_keeping_mentions(text: str) -> str:
    """Our own sentences: inert mrkdwn, except the user and group mentions they name."""
    return _MENTION.sub(r"<\1>", esc(text))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utc_seconds(when: datetime) -> str:
    """A signature's time: to the second, in UTC, said so (21 CFR 11.50)."""
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def page_url(site_url: str, page_id: str) -> str:
    return page_view_url(site_url, page_id)


def page_link(
    site_url: str, page_id: str, title: str | None = None, *, restricted: bool = False
) -> str:
    """The page's title as a link; a page Confluence hides from the reader says so."""
    if title:
        label = esc(clip(title, 80)).replace("|", "¦")
    else:
        label = (PAGE_RESTRICTED if restricted else PAGE_UNTITLED).format(id=esc(page_id))
    return f"<{page_url(site_url, page_id)}|{label}>"


def space_text(snapshot: TargetSnapshot) -> str | None:
    """`space ENG (Engineering Docs)` when Confluence named the space."""
    if not snapshot.space_key:
        return None
    name = esc(clip(snapshot.space_name or snapshot.space_key, 80))
    return SPACE_LINE.format(key=esc(snapshot.space_key), name=name)


def target_label(target: Target) -> str:
    if isinstance(target, PageTarget):
        return f"page {target.page_id}"
    return f"change set {target.change_set_id}"


def page_count(count: int) -> str:
    return "1 page" if count == 1 else f"{count} pages"


def page_line(site_url: str, page: PageSnapshot) -> str:
    """`• Authentication overview · v7 · submittable` (a link to the page)."""
    parts = [f"• {page_link(site_url, page.page_id, page.title, restricted=page.restricted)}"]
    if page.version is not None:
        parts.append(f"v{page.version}")
    if page.can_submit is True:
        parts.append(PAGE_SUBMITTABLE)
    elif page.can_submit is False:
        reason = esc(clip(page.reason or PAGE_BLOCKED_NO_REASON, MAX_REASON_SHOWN))
        parts.append(PAGE_BLOCKED.format(reason=reason))
    return " · ".join(parts)


def lines_within(lines: Sequence[str], limit: int, budget: int = SECTION_BUDGET) -> list[str]:
    """The first `limit` lines that fit one section, then "…and N more"."""
    shown: list[str] = []
    used = 0
    for line in lines[:limit]:
        if used + len(line) + 1 > budget:
            break
        shown.append(line)
        used += len(line) + 1
    if len(shown) < len(lines):
        shown.append(REQUEST_PAGES_MORE.format(count=len(lines) - len(shown)))
    return shown


def pages_text(site_url: str, snapshot: TargetSnapshot, title: str) -> str:
    lines = [page_line(site_url, page) for page in snapshot.pages]
    return "\n".join([title, *lines_within(lines, MAX_PAGES_SHOWN)])


def reviewers_text(request: ApprovalRequest) -> str:
    named = [f"<@{user}>" for user in request.reviewers]
    named += [f"<!subteam^{group}>" for group in request.reviewer_groups]
    return ", ".join(named) if named else REQUEST_ANYONE


def signature_text(signature: Signature) -> str:
    """Printed name, decision, UTC time and meaning: never one without the others (11.50(b))."""
    text = SIGNATURE_LINE.format(
        name=esc(signature.signer.name),
        user=signature.signer.slack_id,
        decision=DECISION_LABELS[signature.decision.value],
        when=utc_seconds(signature.signed_at),
        meaning=esc(signature.meaning),
    )
    if signature.comment:
        template = SIGNATURE_REASON if signature.decision is Decision.REJECT else SIGNATURE_COMMENT
        text += template.format(text=esc(clip(signature.comment, 300)))
    return text


def signature_blocks(signatures: Sequence[Signature]) -> list[Block]:
    """Every signature, whole; split over sections rather than cut (11.50(b))."""
    if not signatures:
        return []
    blocks: list[Block] = []
    current = SIGNATURES_TITLE
    for signature in signatures:
        line = signature_text(signature)
        if len(current) + len(line) + 1 > SECTION_BUDGET:
            blocks.append(section(current))
            current = line
        else:
            current = f"{current}\n{line}"
    blocks.append(section(current))
    return blocks


def outcome_blocks(site_url: str, outcomes: Sequence[PageOutcome]) -> list[Block]:
    """What the submit did, page by page: submitted, and skipped with ApprovalFlow's reason."""
    submitted = [o for o in outcomes if o.submitted]
    skipped = [o for o in outcomes if not o.submitted]
    blocks: list[Block] = []
    if submitted:
        lines = [f"• {page_link(site_url, o.page_id, o.title)}" for o in submitted]
        head = OUTCOME_SUBMITTED.format(count=len(submitted))
        blocks.append(section("\n".join([head, *lines_within(lines, MAX_PAGES_SHOWN)])))
    if skipped:
        lines = [
            "• "
            + OUTCOME_SKIPPED_LINE.format(
                page=page_link(site_url, o.page_id, o.title),
                reason=esc(clip(o.reason or PAGE_BLOCKED_NO_REASON, MAX_REASON_SHOWN)),
            )
            for o in skipped
        ]
        head = OUTCOME_SKIPPED.format(count=len(skipped))
        blocks.append(section("\n".join([head, *lines_within(lines, MAX_PAGES_SHOWN)])))
    return blocks


def rollup_text(state: str, target: Target) -> str:
    template = ROLLUP_STATES.get(state)
    if template is None:
        return ROLLUP_OTHER.format(state=esc(clip(state, 40)))
    return template.format(target=target.id)


def state_text(request: ApprovalRequest) -> str:
    match request.status:
        case Status.PENDING if request.last_error:
            return STATE_PENDING_FAILED.format(error=esc(clip(request.last_error, 500)))
        case Status.PENDING:
            return STATE_PENDING
        case Status.SUBMITTING:
            return STATE_SUBMITTING
        case Status.SUBMITTED if request.last_error:
            # A submit confirmed after a timeout says how it was confirmed.
            return (
                f"{STATE_SUBMITTED}\n{STATE_NOTE.format(note=esc(clip(request.last_error, 500)))}"
            )
        case Status.SUBMITTED:
            return STATE_SUBMITTED
        case Status.SUBMITTING if request.last_error:
            return (
                f"{STATE_SUBMITTING}\n{STATE_NOTE.format(note=esc(clip(request.last_error, 500)))}"
            )
        case Status.REJECTED:
            return STATE_REJECTED.format(target=target_label(request.target))
        case Status.EXPIRED:
            return STATE_EXPIRED.format(when=utc(request.expires_at), target=request.target.id)
        case _:
            return STATE_CLOSED


Members = Mapping[str, frozenset[str]]  # user group id -> its members, as Slack lists them


def stages_text(
    request: ApprovalRequest, members: Members | None = None, allow_self: bool = False
) -> str:
    """Every stage with its progress: signed, waiting (for how many of whom, and who of its
    groups' `members` may still sign), or later."""
    open_stage = request.open_stage
    lines = [STAGES_TITLE.format(policy=esc(request.effective_policy.name))]
    for index, stage in enumerate(request.stages):
        signed = request.approvals_in(index)
        progress = f"{len(signed)} of {stage.quorum}"
        who = signers_text(stage)
        if open_stage is None or index < open_stage:
            line = STAGE_DONE.format(number=index + 1, name=esc(stage.name), progress=progress)
        elif index == open_stage and request.status is Status.PENDING:
            line = STAGE_OPEN.format(
                number=index + 1,
                name=esc(stage.name),
                progress=progress,
                who=may_sign_text(request, stage, members or {}, allow_self),
            )
        elif index == open_stage or request.status is not Status.PENDING:
            line = STAGE_STOPPED.format(number=index + 1, name=esc(stage.name), who=who)
        else:
            line = STAGE_LATER.format(number=index + 1, name=esc(stage.name), who=who)
        if signed:
            names = ", ".join(esc(s.signer.name) for s in signed)
            line += " · " + STAGE_SIGNED_BY.format(names=names)
        lines.append(line)
    return "\n".join(lines_within(lines, 12))


def may_sign_text(
    request: ApprovalRequest, stage: Stage, members: Members, allow_self: bool
) -> str:
    """Who may still sign the open stage: its named signers, then each group with those of its
    members (when known) who have not signed and did not ask; a long group is counted."""
    if stage.anyone:
        return signers_list(stage)
    named = [user for user in stage.signers if request.may_still_sign(user, allow_self)]
    parts = [mention(user) for user in named]
    for group in stage.groups:
        known = members.get(group)
        if known is None:  # Slack did not say: the group itself still reads right
            parts.append(group_mention(group))
            continue
        left = sorted(
            user for user in known if user not in named and request.may_still_sign(user, allow_self)
        )
        people = [mention(user) for user in left[:MAX_MEMBERS_SHOWN]]
        if len(left) > MAX_MEMBERS_SHOWN:
            people.append(STAGE_PEOPLE_MORE.format(count=len(left) - MAX_MEMBERS_SHOWN))
        listed = ", ".join(people) or STAGE_GROUP_NOBODY
        parts.append(STAGE_GROUP_LEFT.format(group=group_mention(group), people=listed))
    return ", ".join(parts)


def stage_line(number: int, stage: Stage) -> str:
    escalation = ""
    if stage.escalate_after is not None:
        to = [f"<@{u}>" for u in stage.escalate_to] + [
            f"<!subteam^{g}>" for g in stage.escalate_groups
        ]
        hours = stage.escalate_after.total_seconds() / 3600
        after = f"{hours:g}h" if hours >= 1 else f"{hours * 60:g}m"
        escalation = STAGE_ESCALATION.format(to=", ".join(to), after=after)
    return STAGE_LINE.format(
        number=number,
        name=esc(stage.name),
        who=signers_text(stage),
        meaning=esc(stage.meaning or DEFAULT_MEANING),
        escalation=escalation,
    )


def policy_text(policy: Policy, default: bool) -> str:
    head = POLICY_LINE.format(
        name=esc(policy.name),
        default=" (default)" if default else "",
        description=esc(policy.description or "no description"),
    )
    lines = [stage_line(n, stage) for n, stage in enumerate(policy.stages, start=1)]
    return "\n".join([head, *lines])


def policies_message(book: PolicyBook) -> tuple[str, list[Block]]:
    """`/approvals policies`: every policy as the bot understood it, the default first."""
    blocks: list[Block] = [section(POLICIES_TITLE)]
    if book.default is None:
        blocks.append(section(POLICIES_BUILT_IN))
    else:
        blocks.append(
            context(
                POLICIES_SOURCE.format(source=esc(book.source or ""), default=esc(book.default))
            )
        )
        for policy in book.listed()[:40]:
            blocks.append(section(clip(policy_text(policy, policy.name == book.default), 2900)))
    return POLICIES_TITLE.strip("*"), blocks


def decision_buttons(request_id: str) -> Block:
    """Approve and Reject; the value is the request id and nothing else (the server re-checks)."""
    return {
        "type": "actions",
        "block_id": f"decide:{request_id}",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "text": plain(APPROVE_BUTTON),
                "value": request_id,
                "style": "primary",
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION,
                "text": plain(REJECT_BUTTON),
                "value": request_id,
                "style": "danger",
            },
        ],
    }


def evidence_button(request_id: str) -> Block:
    """Evidence (PDF): the report in the clicker's DM; the server checks who may have it."""
    return {
        "type": "actions",
        "block_id": f"evidence:{request_id}",
        "elements": [
            {
                "type": "button",
                "action_id": EVIDENCE_ACTION,
                "text": plain(EVIDENCE_BUTTON),
                "value": request_id,
            }
        ],
    }


def request_message(
    request: ApprovalRequest,
    *,
    site_url: str,
    members: Members | None = None,
    allow_self: bool = False,
) -> tuple[str, list[Block]]:
    """The channel message for a request in any state; buttons only while it can be signed.
    `members` lists the open stage's user groups, to name who of them may still sign."""
    snapshot = request.snapshot
    title = request.title or snapshot.title or target_label(request.target)
    what = REQUEST_TARGET_LINE.format(
        what=target_label(request.target), pages=page_count(len(snapshot.pages))
    )
    space = space_text(snapshot)
    if space:
        what = f"{what} · {space}"
    head = [f"*{esc(clip(title, MAX_TITLE_SHOWN))}*", what]
    if request.summary:
        head.append(esc(clip(request.summary, 500)))
    if request.reference_url and request.reference_url.startswith(("https://", "http://")):
        head.append(REQUEST_REFERENCE.format(url=esc(request.reference_url).replace("|", "%7C")))
    blocks: list[Block] = [
        {"type": "header", "text": plain(REQUEST_HEADER.format(id=request.id))},
        section("\n".join(head)),
        section(pages_text(site_url, snapshot, REQUEST_PAGES_TITLE)),
        context(
            REQUEST_PREFLIGHT.format(
                submittable=len(snapshot.submittable), blocked=len(snapshot.blocked)
            )
        ),
        section(state_text(request)),
    ]
    if request.rollup_state and request.status in (Status.SUBMITTED, Status.CLOSED):
        blocks.append(section(rollup_text(request.rollup_state, request.target)))
    blocks += outcome_blocks(site_url, request.outcomes)
    if len(request.stages) > 1:
        blocks.append(section(stages_text(request, members, allow_self)))
    blocks += signature_blocks(request.signatures)
    people = REQUEST_PEOPLE.format(
        requester=request.requester, reviewers=reviewers_text(request), id=request.id
    )
    if request.status is Status.PENDING:
        people += " · " + REQUEST_EXPIRES.format(when=utc(request.expires_at))
    blocks.append(context(people))
    if request.status is Status.PENDING:
        blocks.append(decision_buttons(request.id))
    elif request.status in EVIDENCE_STATES:
        blocks.append(evidence_button(request.id))
    fallback = REQUEST_FALLBACK.format(
        id=request.id,
        target=target_label(request.target),
        title=clip(title, MAX_TITLE_SHOWN),
        state=SHORT_STATES.get(request.status.value, request.status.value),
    )
    return fallback, blocks


def note_message(text: str) -> tuple[str, list[Block]]:
    """A thread reply or a DM about a request: the service's sentence, as is."""
    return text, [section(text)]


def posted_message(request: ApprovalRequest) -> tuple[str, list[Block]]:
    text = REQUEST_POSTED.format(id=request.id, channel=request.channel)
    pages = request.snapshot.pages
    if pages and all(page.title is None and not page.restricted for page in pages):
        # Confluence was not asked (a link from before its scopes) or did not answer.
        text = f"{text}\n{REQUEST_NO_TITLES}"
    return text, [section(text)]


def missing_scope_message(explanation: str, connect_url: str) -> tuple[str, list[Block]]:
    """What a command needs that the link lacks, with the Connect Atlassian button."""
    blocks = [
        section(f":warning: {esc(explanation)}"),
        {"type": "actions", "elements": [connect_button(connect_url)]},
    ]
    return explanation, blocks


def nothing_to_submit_message(explanation: str) -> tuple[str, list[Block]]:
    text = f"{REQUEST_NOTHING}\n{esc(explanation)}"
    return text, [section(text)]


def cannot_post_text(error: str, channel: str) -> str:
    """Why a request message could not be posted, for the person who asked (Slack's error)."""
    if error in ("channel_not_found", "is_archived"):
        return REQUEST_CHANNEL_GONE.format(channel=channel)
    return REQUEST_NOT_IN_CHANNEL.format(channel=channel)


def pending_line(request: ApprovalRequest) -> str:
    title = request.title or request.snapshot.title or target_label(request.target)
    return PENDING_LINE.format(
        id=request.id,
        title=esc(clip(title, 100)),
        what=target_label(request.target),
        requester=request.requester,
        until=utc(request.expires_at),
    )


def pending_blocks(requests: Sequence[ApprovalRequest], title: str) -> list[Block]:
    if not requests:
        return [section(f"{title}\n{PENDING_NONE}")]
    blocks: list[Block] = [section(title)]
    for request in requests[:MAX_PENDING_SHOWN]:
        blocks.append(section(pending_line(request)))
        blocks.append(decision_buttons(request.id))
    if len(requests) > MAX_PENDING_SHOWN:
        blocks.append(context(PENDING_MORE.format(count=len(requests) - MAX_PENDING_SHOWN)))
    return blocks


def pending_message(requests: Sequence[ApprovalRequest]) -> tuple[str, list[Block]]:
    """`/approvals pending`: each request the caller may sign, with its buttons."""
    title = PENDING_TITLE.format(count=len(requests))
    text = PENDING_FALLBACK.format(count=len(requests)) if requests else PENDING_NONE
    return text, pending_blocks(requests, title)


def home_pending_blocks(requests: Sequence[ApprovalRequest]) -> list[Block]:
    """The App Home's "waiting for your signature" section."""
    return pending_blocks(requests, HOME_PENDING_TITLE)
