"""Phrases every renderer shares: times, page counts, mentions, who signs a stage, page lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.approvalflow.targets import Target, TargetSnapshot
from services.requests.model import ApprovalRequest, PageOutcome, Stage

SHOWN_PAGES = 10  # pages listed by name in a message; the rest are counted
NAMED_PAGES = 5  # pages named in a one-line note; more are counted


def utc(when: datetime) -> str:
    """A time as people read it in a message: minutes, UTC, unambiguous."""
    return when.strftime("%Y-%m-%d %H:%M UTC")


def pages_text(n: int) -> str:
    return "1 page" if n == 1 else f"{n} pages"


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def mention(user: str) -> str:
    return f"<@{user}>"


def group_mention(group: str) -> str:
    return f"<!subteam^{group}>"


def signers_list(stage: Stage, leaving_out: frozenset[str] = frozenset()) -> str:
    """The people and groups a stage names ("<@U1>, <!subteam^S1>"), but `leaving_out`."""
    if stage.anyone:
        return "anyone but the requester"
    named = [mention(u) for u in stage.signers if u not in leaving_out]
    return ", ".join(named + [group_mention(g) for g in stage.groups])


def signers_text(stage: Stage) -> str:
    """Who signs a stage: "<@U1>", "2 of <!subteam^S1>", "anyone but the requester"."""
    listed = signers_list(stage)
    if stage.anyone:
        return listed
    if stage.required is None:
        return f"all of {listed}"
    if stage.quorum == 1 and len(stage.signers) + len(stage.groups) == 1:
        return listed
    return f"{stage.quorum} of {listed}"


def stage_label(request: ApprovalRequest, index: int) -> str:
    stages = request.stages
    if len(stages) == 1:
        return "the signature"
    return f"stage {index + 1} of {len(stages)}, “{stages[index].name}”"


def stage_progress(request: ApprovalRequest, index: int) -> str:
    stage = request.stages[index]
    return f"{len(request.approvals_in(index))} of {stage.quorum}"


def described(target: Target, title: str | None) -> str:
    return f"{target} ({title})" if title else str(target)


def blocked_lines(snapshot: TargetSnapshot) -> str:
    """One line per page that cannot be submitted, with why; the first SHOWN_PAGES."""
    lines = [f"• {p.name}: {p.reason or 'cannot be submitted'}" for p in snapshot.blocked]
    shown = lines[:SHOWN_PAGES]
    if len(lines) > SHOWN_PAGES:
        shown.append(f"• +{len(lines) - SHOWN_PAGES} more")
    return "\n".join(shown)


def names(outcomes: Sequence[PageOutcome]) -> str:
    """` (Title one, Title two, +3 more)`, or nothing when no page has a title."""
    titled = [o.title for o in outcomes if o.title]
    if not titled:
        return ""
    shown = titled[:NAMED_PAGES]
    more = len(outcomes) - len(shown)
    return " (" + ", ".join(shown) + (f", +{more} more" if more > 0 else "") + ")"


def reasons(outcomes: Sequence[PageOutcome]) -> str:
    parts = [
        f"{o.title or f'page {o.page_id}'}: {o.reason or 'skipped'}"
        for o in outcomes
        if not o.submitted
    ]
    return "; ".join(parts[:SHOWN_PAGES]) + (
        f"; +{len(parts) - SHOWN_PAGES} more" if len(parts) > SHOWN_PAGES else ""
    )


def clause(text: str) -> str:
    """A sentence as a clause of another: no full stop of its own."""
    return text.strip().rstrip(".")
