"""The signing modal and what it turns into: loading, the form, submitting, signed, problems."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from handlers.blocks.common import Block, context, plain, section
from handlers.blocks.outcomes import signed_text
from handlers.blocks.phrases import utc
from handlers.blocks.requests import (
    clip,
    esc,
    esc_keeping_mentions,
    lines_within,
    page_line,
    page_link,
    space_text,
    target_label,
)
from handlers.messages import (
    SIGN_ATTESTATION,
    SIGN_CHANGED,
    SIGN_CHANGES_SINCE,
    SIGN_CHANGES_TITLE,
    SIGN_CLOSE,
    SIGN_CODE_HINT,
    SIGN_CODE_LABEL,
    SIGN_CODE_PLACEHOLDER,
    SIGN_COMMENT_LABEL,
    SIGN_CONNECT_BUTTON,
    SIGN_CONNECT_NOTE,
    SIGN_DONE,
    SIGN_EDITED_AT,
    SIGN_EDITED_BY,
    SIGN_EDITOR_ACCOUNT,
    SIGN_ENROLL_BUTTON,
    SIGN_LOADING,
    SIGN_MEANING,
    SIGN_PAGES_TITLE,
    SIGN_PROBLEM_TITLE,
    SIGN_REASON_HINT,
    SIGN_REASON_LABEL,
    SIGN_RECONFIRM,
    SIGN_SUBMIT,
    SIGN_SUBMITTING,
    SIGN_TARGET,
    SIGN_TITLES,
    SIGNED_SEE_MESSAGE,
)
from services.approvalflow.targets import PageSnapshot
from services.requests.model import (
    COMMENT_MAX,
    REASON_MAX,
    REASON_MIN,
    Decision,
    normalise_request_id,
)
from services.requests.outcomes import Rejected, SignOutcome
from services.requests.ports import PageChange, SigningForm

SIGN_MODAL = "request_sign"  # the form; its submission is the signature
INFO_MODAL = "request_sign_info"  # loading, problems, outcomes: nothing to submit
CONNECT_ACTION = "request_sign_connect"
ENROLL_ACTION = "request_sign_enroll"
CODE_BLOCK, CODE_INPUT = "code", "code"
REASON_BLOCK, REASON_INPUT = "reason", "reason"
COMMENT_BLOCK, COMMENT_INPUT = "comment", "comment"
CODE_MAX_LENGTH = 12  # "123 456" with stray spaces; the server wants exactly 6 digits
MAX_PAGES_IN_FORM = 25  # a modal holds 100 blocks; pages share one section
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MAX_METADATA = 512  # ours are about 110 characters


@dataclass(frozen=True)
class FormMetadata:
    """What the form carries to its submission: which request, which decision, what was shown.

    Never trusted: the server re-checks the request, the signer and the snapshot."""

    request_id: str
    decision: Decision
    digest: str
    stage: int = 0  # the stage whose meaning the form showed

    def encode(self) -> str:
        return json.dumps(
            {
                "request": self.request_id,
                "decision": self.decision.value,
                "digest": self.digest,
                "stage": self.stage,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str) -> FormMetadata | None:
        """None for anything we did not write: wrong shape, extra fields, a non-canonical id."""
        if not text or len(text) > _MAX_METADATA:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or set(data) != {"request", "decision", "digest", "stage"}:
            return None
        request_id, decision, digest = data["request"], data["decision"], data["digest"]
        if not all(isinstance(v, str) for v in (request_id, decision, digest)):
            return None
        stage = data["stage"]
        if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage < 100:
            return None
        if normalise_request_id(request_id) != request_id:
            return None
        if decision not in (d.value for d in Decision) or not _DIGEST.fullmatch(digest):
            return None
        return cls(request_id, Decision(decision), digest, stage)


def _modal(
    title: str,
    blocks: list[Block],
    *,
    callback_id: str = INFO_MODAL,
    submit: str | None = None,
    close: str = SIGN_CLOSE,
    private_metadata: str = "",
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title),
        "close": plain(close),
        "blocks": blocks,
    }
    if submit is not None:
        view["submit"] = plain(submit)
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def modal_title(request_id: str | None, decision: Decision) -> str:
    if request_id is None:
        return SIGN_PROBLEM_TITLE
    return SIGN_TITLES[decision.value].format(id=request_id)


def loading_view(request_id: str | None, decision: Decision) -> dict[str, Any]:
    """Opened the moment the button is pressed (the trigger lives 3 s), then replaced."""
    return _modal(modal_title(request_id, decision), [section(SIGN_LOADING)])


def notice_view(request_id: str | None, decision: Decision, text: str) -> dict[str, Any]:
    """A modal that only says something (reloading, submitting ...)."""
    return _modal(modal_title(request_id, decision), [section(text)])


def submitting_view(request_id: str, decision: Decision) -> dict[str, Any]:
    return _modal(modal_title(request_id, decision), [section(SIGN_SUBMITTING)], close=SIGN_DONE)


def signing_view(form: SigningForm, *, site_url: str, reconfirm: bool = False) -> dict[str, Any]:
    """The form: the fresh snapshot, the meaning, a comment (reject: a reason) and the code."""
    request, decision, snapshot = form.request, form.decision, form.snapshot
    title = request.title or snapshot.title or target_label(request.target)
    blocks: list[Block] = [
        section(
            SIGN_TARGET.format(
                title=esc(title[:150]),
                what=" · ".join(
                    part for part in (target_label(request.target), space_text(snapshot)) if part
                ),
                requester=request.requester,
            )
        )
    ]
    if reconfirm:
        blocks.append(section(SIGN_RECONFIRM))
    elif form.changed_since_request:
        blocks.append(section(SIGN_CHANGED))
    lines = [page_line(site_url, page) for page in snapshot.pages]
    blocks.append(section("\n".join([SIGN_PAGES_TITLE, *lines_within(lines, MAX_PAGES_IN_FORM)])))
    if form.changes:
        names = {page.page_id: page for page in snapshot.pages}
        changed = [
            change_line(site_url, change, names.get(change.page_id)) for change in form.changes
        ]
        blocks.append(
            section("\n".join([SIGN_CHANGES_TITLE, *lines_within(changed, MAX_PAGES_IN_FORM)]))
        )
    blocks.append(section(SIGN_MEANING.format(meaning=esc(form.meaning))))
    blocks.append(context(SIGN_ATTESTATION))
    if decision is Decision.REJECT:
        blocks.append(
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": plain(SIGN_REASON_LABEL),
                "hint": plain(SIGN_REASON_HINT),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "min_length": REASON_MIN,
                    "max_length": REASON_MAX,
                    "focus_on_load": True,
                },
            }
        )
    else:
        blocks.append(
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "optional": True,
                "label": plain(SIGN_COMMENT_LABEL),
                "element": {
                    "type": "plain_text_input",
                    "action_id": COMMENT_INPUT,
                    "multiline": True,
                    "max_length": COMMENT_MAX,
                },
            }
        )
    code_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": CODE_INPUT,
        "placeholder": plain(SIGN_CODE_PLACEHOLDER),
        "max_length": CODE_MAX_LENGTH,
    }
    if decision is Decision.APPROVE:
        # On a phone the keyboard comes up on the one field an approval needs.
        code_element["focus_on_load"] = True
    blocks.append(
        {
            "type": "input",
            "block_id": CODE_BLOCK,
            "label": plain(SIGN_CODE_LABEL),
            "hint": plain(SIGN_CODE_HINT),
            "element": code_element,
        }
    )
    metadata = FormMetadata(request.id, decision, snapshot.digest, form.stage)
    return _modal(
        modal_title(request.id, decision),
        blocks,
        callback_id=SIGN_MODAL,
        submit=SIGN_SUBMIT[decision.value],
        private_metadata=metadata.encode(),
    )


def compare_url(site_url: str, page_id: str, since: int, current: int) -> str:
    """Confluence's comparison of two versions of a page."""
    return (
        f"{site_url.rstrip('/')}/wiki/pages/diffpagesbyversion.action?pageId="
        f"{quote(page_id, safe='')}&selectedPageVersions={since}&selectedPageVersions={current}"
    )


def change_line(site_url: str, change: PageChange, page: PageSnapshot | None) -> str:
    """`• Title: changes since v7 (link) · last edited by @bob at 2026-12-02 01:23 UTC`."""
    title = page.title if page is not None else None
    restricted = page.restricted if page is not None else False
    link = page_link(site_url, change.page_id, title, restricted=restricted)
    diff = SIGN_CHANGES_SINCE.format(
        url=compare_url(site_url, change.page_id, change.since, change.current),
        since=change.since,
    )
    if change.editor:
        who = f"<@{change.editor}>"
    elif change.edited_by:
        who = SIGN_EDITOR_ACCOUNT.format(account=esc(clip(change.edited_by, 80)))
    else:
        return f"• {link}: {diff}"
    when = f" {SIGN_EDITED_AT.format(when=utc(change.edited_at))}" if change.edited_at else ""
    return f"• {link}: {diff} · {SIGN_EDITED_BY.format(who=who)}{when}"


def signed_view(outcome: SignOutcome, *, site_url: str) -> dict[str, Any]:
    """What the signer sees once `sign` returned: what their signature came to, briefly."""
    request = outcome.request
    blocks = [
        section(signed_text(outcome, site_url)),
        context(SIGNED_SEE_MESSAGE.format(channel=request.channel)),
    ]
    decision = Decision.REJECT if isinstance(outcome, Rejected) else Decision.APPROVE
    return _modal(modal_title(request.id, decision), blocks, close=SIGN_DONE)


def problem_view(
    request_id: str | None,
    decision: Decision,
    text: str,
    *,
    connect_url: str | None = None,
    enroll: bool = False,
) -> dict[str, Any]:
    """Why this person cannot sign now and what to do, with the button that fixes it."""
    blocks: list[Block] = [section(f":warning: {esc_keeping_mentions(text)}")]
    buttons: list[dict[str, Any]] = []
    if connect_url is not None:
        buttons.append(
            {
                "type": "button",
                "action_id": CONNECT_ACTION,
                "text": plain(SIGN_CONNECT_BUTTON),
                "url": connect_url,
                "style": "primary",
            }
        )
    if enroll:
        buttons.append(
            {
                "type": "button",
                "action_id": ENROLL_ACTION,
                "text": plain(SIGN_ENROLL_BUTTON),
                "style": "primary",
            }
        )
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    if connect_url is not None:
        blocks.append(context(SIGN_CONNECT_NOTE))
    return _modal(modal_title(request_id, decision), blocks, close=SIGN_DONE)


def token_problem_text(template: str, when: datetime | None) -> str:
    return template.format(when=utc(when) if when else "an earlier date")
