"""`/approvals request`, `pending`, `watch` and `unwatch`; the App Home's pending section."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.blocks.approval_token import notice_message
from handlers.blocks.common import Block
from handlers.blocks.refusals import refusal_text
from handlers.blocks.requests import (
    esc,
    home_pending_blocks,
    missing_scope_message,
    nothing_to_submit_message,
    pending_message,
    policies_message,
    posted_message,
)
from handlers.messages import (
    PENDING_NO_ARGUMENTS,
    POLICIES_NO_ARGUMENTS,
    POLICY_MISSING_NAME,
    POLICY_ONE,
    REASSIGN_DONE,
    REASSIGN_PEOPLE,
    REASSIGN_USAGE,
    REQUEST_ONE_CHANNEL,
    REQUEST_ONE_TARGET,
    REQUEST_PLAIN_CHANNEL,
    REQUEST_PLAIN_MENTION,
    REQUEST_TOO_MANY_REVIEWERS,
    REQUEST_USAGE,
    SPACE_BY_ID,
    SPACE_NAMED,
    UNWATCH_DONE,
    UNWATCH_USAGE,
    WATCH_BAD_SPACE,
    WATCH_DONE,
    WATCH_REFUSED,
    WATCH_USAGE,
    missing_argument,
    unknown_subcommand,
)
from handlers.slash import SlashCall, SubcommandRouter
from services.admin import AdminAccess
from services.confluence import ConfluenceSpace
from services.errors import InputError, MissingScope, NotAllowed, NothingToSubmit
from services.linking import AccountLinking
from services.requests.ports import RequestService

# Given the Slack user id, a feature's blocks for the App Home.
# Given the Slack user and team ids (as a status section), a feature's blocks for the Home.
HomeSection = Callable[[str, str], Awaitable[list[Block]]]

MAX_REVIEWERS = 25
# One token of command text: Slack's escaped forms (<@U1|bob>, <#C1|general>, <https://x|label>)
# are one token even with spaces in the label; everything else splits on whitespace.
_USER = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>")
_GROUP = re.compile(r"<!subteam\^([A-Z0-9]{2,20})(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]{2,20})(?:\|[^>]*)?>")
_SPACE = re.compile(r"~?[A-Za-z0-9_:-]{1,255}")  # a space key (DOCS) or its numeric id


@dataclass(frozen=True)
class RequestCommand:
    """`/approvals request …` as our type: one target, reviewers, groups, maybe a channel."""

    target: str
    reviewers: tuple[str, ...]
    groups: tuple[str, ...]
    channel: str | None
    policy: str | None = None

    @classmethod
    def parse(cls, words: list[str]) -> RequestCommand:
        """Raises InputError naming the exact problem."""
        words, policy = _policy_option(words, REQUEST_USAGE)
        target: str | None = None
        reviewers: dict[str, None] = {}  # ordered, without repeats
        groups: dict[str, None] = {}
        channel: str | None = None
        for word in words:
            if user := _USER.fullmatch(word):
                reviewers.setdefault(user.group(1), None)
            elif group := _GROUP.fullmatch(word):
                groups.setdefault(group.group(1), None)
            elif named := _CHANNEL.fullmatch(word):
                if channel not in (None, named.group(1)):
                    raise InputError(REQUEST_ONE_CHANNEL)
                channel = named.group(1)
            elif word.startswith(("@", "<@", "<!")):
                raise InputError(REQUEST_PLAIN_MENTION.format(word=_shown(word)))
            elif word.startswith(("#", "<#")):
                raise InputError(REQUEST_PLAIN_CHANNEL.format(word=_shown(word)))
            elif target is None:
                target = word
            else:
                raise InputError(
                    REQUEST_ONE_TARGET.format(first=_shown(target), second=_shown(word))
                )
        if target is None:
            raise InputError(missing_argument(REQUEST_USAGE))
        if len(reviewers) + len(groups) > MAX_REVIEWERS:
            raise InputError(REQUEST_TOO_MANY_REVIEWERS.format(limit=MAX_REVIEWERS))
        return cls(target, tuple(reviewers), tuple(groups), channel, policy)


@dataclass(frozen=True)
class WatchCommand:
    space: str
    channel: str | None
    policy: str | None = None

    @classmethod
    def parse(cls, words: list[str], usage: str, *, channel_allowed: bool) -> WatchCommand:
        policy = None
        if channel_allowed:
            words, policy = _policy_option(words, usage)
        if not words:
            raise InputError(missing_argument(usage))
        space, *rest = words
        if not _SPACE.fullmatch(space):
            raise InputError(WATCH_BAD_SPACE.format(value=_shown(space)))
        channel: str | None = None
        for word in rest:
            named = _CHANNEL.fullmatch(word)
            if named is None or not channel_allowed:
                raise InputError(unknown_subcommand(_shown(word)) + f" Use `/approvals {usage}`.")
            if channel not in (None, named.group(1)):
                raise InputError(REQUEST_ONE_CHANNEL)
            channel = named.group(1)
        return cls(space, channel, policy)


@dataclass(frozen=True)
class ReassignCommand:
    """`/approvals reassign <request-id> @from @to [reason]`."""

    request_id: str
    old: str
    new: str
    reason: str

    @classmethod
    def parse(cls, words: list[str]) -> ReassignCommand:
        if len(words) < 3:
            raise InputError(missing_argument(REASSIGN_USAGE))
        request_id, old, new, *reason = words
        people = [_USER.fullmatch(old), _USER.fullmatch(new)]
        if people[0] is None or people[1] is None:
            raise InputError(REASSIGN_PEOPLE.format(usage=REASSIGN_USAGE))
        return cls(request_id, people[0].group(1), people[1].group(1), " ".join(reason))


def _policy_option(words: list[str], usage: str) -> tuple[list[str], str | None]:
    """`--policy NAME` (or `--policy=NAME`) taken out of the words."""
    rest: list[str] = []
    policy: str | None = None
    iterator = iter(words)
    for word in iterator:
        if word == "--policy" or word.startswith("--policy="):
            name = word.partition("=")[2] if "=" in word else next(iterator, "")
            if not name or name.startswith("-"):
                raise InputError(POLICY_MISSING_NAME.format(usage=usage))
            if policy not in (None, name):
                raise InputError(POLICY_ONE)
            policy = name
        elif word.startswith("--"):
            raise InputError(unknown_subcommand(_shown(word)) + f" Use `/approvals {usage}`.")
        else:
            rest.append(word)
    return rest, policy


def space_label(space: ConfluenceSpace) -> str:
    """`ENG` (Engineering Docs, id 98301), or the id alone when Confluence did not name it."""
    if not space.key:
        return SPACE_BY_ID.format(id=space.space_id)
    return SPACE_NAMED.format(key=space.key, name=esc(space.name), id=space.space_id)


def _shown(word: str) -> str:
    # Echo enough to recognise, never a whole paste; backticks would break the code span.
    word = word.replace("`", "'")
    return word if len(word) <= 60 else word[:57] + "..."


def register(
    router: SubcommandRouter,
    requests: RequestService,
    access: AdminAccess,
    linking: AccountLinking,
    *,
    approvals_channel: str | None,
) -> None:
    async def refuse(call: SlashCall, problem: str) -> None:
        await router.reply_help(call.ack, problem)

    async def reply(call: SlashCall, text: str, blocks: list[Block]) -> None:
        await call.respond(text=text, blocks=blocks, replace_original=False)

    async def needs_permission(call: SlashCall, error: MissingScope) -> None:
        # The fix is a click away: a connect bound to this person, as /approvals connect.
        start = await linking.start(call.input.team_id, call.input.user_id)
        await reply(call, *missing_scope_message(refusal_text(error), start.authorize_url))

    async def request(call: SlashCall) -> None:
        # The router splits with shlex, which breaks Slack's link labels apart; read the raw text.
        try:
            command = RequestCommand.parse(call.args)
        except InputError as exc:
            await refuse(call, refusal_text(exc))
            return
        await call.ack()
        channel = command.channel or approvals_channel or call.input.channel_id
        try:
            created = await requests.create(
                call.input.user_id,
                command.target,
                command.reviewers,
                command.groups,
                channel,
                command.policy,
            )
        except NothingToSubmit as exc:
            text, blocks = nothing_to_submit_message(refusal_text(exc))
            await reply(call, text, blocks)
            return
        except MissingScope as exc:
            await needs_permission(call, exc)
            return
        await reply(call, *posted_message(created))

    async def pending(call: SlashCall) -> None:
        if call.args:
            await refuse(call, PENDING_NO_ARGUMENTS)
            return
        await call.ack()
        await reply(call, *pending_message(await requests.pending_for(call.input.user_id)))

    async def admin_only(user: str, what: str, target: str) -> None:
        try:
            await access.require(user, f"requests.{what}", target)
        except NotAllowed:
            # AdminAccess words its refusal for /approvals tokens; say which command it was.
            raise NotAllowed(WATCH_REFUSED.format(what=what)) from None

    async def watch(call: SlashCall) -> None:
        try:
            command = WatchCommand.parse(call.args, WATCH_USAGE, channel_allowed=True)
        except InputError as exc:
            await refuse(call, refusal_text(exc))
            return
        await call.ack()
        await admin_only(call.input.user_id, "watch", f"space:{command.space}")
        channel = command.channel or approvals_channel or call.input.channel_id
        try:
            space = await requests.watch(call.input.user_id, command.space, channel, command.policy)
        except MissingScope as exc:
            await needs_permission(call, exc)
            return
        text = WATCH_DONE.format(space=space_label(space), channel=channel)
        await reply(call, *notice_message(text))

    async def unwatch(call: SlashCall) -> None:
        try:
            command = WatchCommand.parse(call.args, UNWATCH_USAGE, channel_allowed=False)
        except InputError as exc:
            await refuse(call, refusal_text(exc))
            return
        await call.ack()
        await admin_only(call.input.user_id, "unwatch", f"space:{command.space}")
        space = await requests.unwatch(call.input.user_id, command.space)
        text = UNWATCH_DONE.format(space=space_label(space))
        await reply(call, *notice_message(text))

    async def policies(call: SlashCall) -> None:
        if call.args:
            await refuse(call, POLICIES_NO_ARGUMENTS)
            return
        await call.ack()
        await reply(call, *policies_message(requests.policies()))

    async def reassign(call: SlashCall) -> None:
        try:
            command = ReassignCommand.parse(call.args)
        except InputError as exc:
            await refuse(call, refusal_text(exc))
            return
        await call.ack()
        user = call.input.user_id
        request = await requests.get(command.request_id)
        admin = False
        if user != request.requester:
            await access.require(user, "requests.reassign", f"request:{request.id}")
            admin = True
        done = await requests.reassign(
            request.id, user, command.old, command.new, command.reason, admin=admin
        )
        text = REASSIGN_DONE.format(id=done.id, old=command.old, new=command.new)
        await reply(call, *notice_message(text))

    router.add("request", request)
    router.add("reassign", reassign)
    router.add("policies", policies)
    router.add("pending", pending)
    router.add("watch", watch)
    router.add("unwatch", unwatch)


def home_pending_section(requests: RequestService) -> HomeSection:
    """The App Home's "waiting for your signature" part."""

    async def section(user_id: str, team_id: str) -> list[Block]:
        return home_pending_blocks(await requests.pending_for(user_id))

    return section
