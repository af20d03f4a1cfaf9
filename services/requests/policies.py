"""Signing policies from their configuration document: read, checked, every problem named.

The document (YAML named by SIGNING_POLICIES; parsed into plain data before it gets here)::

    default: doc-control
    policies:
      doc-control:
        description: Author, two reviewers, QA
        stages:
          - name: Author
            meaning: I am the author of these changes
            signers: [U0ALICE]                # Slack user ids
            required: 1
          - name: Review
            meaning: I reviewed them
            signers: ["@doc-reviewers"]       # a user group by handle (or its S... id)
            required: 2
            escalate_after: 24h               # m, h or d
            escalate_to: [U0LEAD, "@doc-leads"]
          - name: QA
            meaning: I approve submitting them for review
            signers: [U0QA]
            required: all                     # every named signer
    # `signers: anyone` (or leaving them out): anyone but the requester.

Without a document the book holds the one policy of today's behaviour: one signature, by the
reviewers named in the command, or by anyone but the requester.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.errors import ConfigError
from services.requests.model import DEFAULT_POLICY_NAME, Policy, Stage, single_stage

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
GROUP_ID = re.compile(r"S[A-Z0-9]{2,20}")
_HANDLE = re.compile(r"@([a-z0-9][a-z0-9._-]{0,79})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_DURATION = re.compile(r"(\d{1,5})\s*([mhd])")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_STAGE_KEYS = {"name", "meaning", "signers", "required", "escalate_after", "escalate_to"}
MEANING_MAX = 200  # it is shown in a modal, a message and every record of the signature


@dataclass(frozen=True)
class PolicyBook:
    """The policies the bot signs by, and which one a request gets when none is named."""

    policies: dict[str, Policy] = field(default_factory=dict)
    default: str | None = None  # None: today's behaviour (see single_stage)
    source: str | None = None  # where they were read from, for /approvals policies

    def choose(
        self, name: str | None, reviewers: tuple[str, ...], groups: tuple[str, ...]
    ) -> Policy:
        """Named reviewers make a one-stage policy; else the named policy; else the default.
        Raises KeyError for an unknown name (the caller words it)."""
        if reviewers or groups:
            return single_stage(reviewers, groups)
        if name is not None:
            return self.policies[name]
        if self.default is not None:
            return self.policies[self.default]
        return single_stage((), ())

    def names(self) -> list[str]:
        return sorted(self.policies)

    def listed(self) -> list[Policy]:
        """Every policy, the default one first (today's behaviour when there is no file)."""
        if not self.policies:
            return [single_stage((), ())]
        return sorted(self.policies.values(), key=lambda p: (p.name != self.default, p.name))


DEFAULT_BOOK = PolicyBook()


Members = Mapping[str, frozenset[str] | None]  # group id -> members; None: no such group


def parse_policies(
    document: Any,
    groups: Mapping[str, str],
    source: str = "SIGNING_POLICIES",
    members: Members | None = None,
) -> PolicyBook:
    """The book from the parsed document; `groups` maps user group handles to their ids, and
    `members` gives the groups' members where they could be read (a `required` larger than a
    stage's named signers and group members is then a problem; a group not in it is not
    checked). Raises one ConfigError naming every problem and its place."""
    problems: list[str] = []
    people = _Workspace(groups, members or {})
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: the file must be a mapping with `policies` and `default`")
    for key in sorted(set(document) - {"policies", "default"}):
        problems.append(f"{key}: unknown key (expected policies, default)")
    raw = document.get("policies")
    policies: dict[str, Policy] = {}
    if not isinstance(raw, dict) or not raw:
        problems.append("policies: missing, or not a mapping of policy names to policies")
        raw = {}
    seen_lower: dict[str, str] = {}
    for name, body in raw.items():
        place = f"policies.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            problems.append(f"{place}: a policy name is 1-40 letters, digits, - or _")
            continue
        if name.lower() in seen_lower:
            problems.append(f"{place}: duplicate name (also {seen_lower[name.lower()]})")
            continue
        seen_lower[name.lower()] = name
        policy = _policy(name, body, people, place, problems)
        if policy is not None:
            policies[name] = policy
    default = document.get("default")
    if default is None:
        problems.append("default: missing (the name of the policy a request gets by default)")
    elif not isinstance(default, str) or default not in raw:
        problems.append(f"default: “{default}” is not one of the policies")
    if problems:
        raise ConfigError(
            f"{source} has {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )
    assert isinstance(default, str)
    return PolicyBook(policies, default, source)


@dataclass(frozen=True)
class _Workspace:
    """What Slack said at start: user group handles to ids, and groups' members."""

    handles: Mapping[str, str]
    members: Members

    def named(self, group: str) -> str:
        handle = next((h for h, g in self.handles.items() if g == group), None)
        return f"@{handle}" if handle else group


def _policy(
    name: str, body: Any, people: _Workspace, place: str, problems: list[str]
) -> Policy | None:
    if not isinstance(body, dict):
        problems.append(f"{place}: must be a mapping with description and stages")
        return None
    for key in sorted(set(body) - {"description", "stages"}):
        problems.append(f"{place}.{key}: unknown key (expected description, stages)")
    description = body.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{place}.description: must be text")
        description = ""
    raw_stages = body.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        problems.append(f"{place}.stages: missing, or not a list of stages")
        return None
    stages = []
    names: set[str] = set()
    for index, raw in enumerate(raw_stages):
        stage_place = f"{place}.stages[{index + 1}]"
        raw_name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(raw_name, str) and raw_name.strip():
            if raw_name.strip().lower() in names:
                problems.append(f"{stage_place}.name: duplicate stage name “{raw_name.strip()}”")
            names.add(raw_name.strip().lower())
        stage = _stage(raw, people, stage_place, problems)
        if stage is not None:
            stages.append(stage)
    if len(stages) != len(raw_stages):
        return None
    return Policy(name, tuple(stages), description.strip())


def _stage(raw: Any, people: _Workspace, place: str, problems: list[str]) -> Stage | None:
    before = len(problems)
    if not isinstance(raw, dict):
        problems.append(f"{place}: must be a mapping (name, meaning, signers, required ...)")
        return None
    for key in sorted(set(raw) - _STAGE_KEYS):
        problems.append(f"{place}.{key}: unknown key")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 40:
        problems.append(f"{place}.name: missing (1-40 characters)")
        name = ""
    meaning = raw.get("meaning")
    if not isinstance(meaning, str) or not meaning.strip() or len(meaning) > MEANING_MAX:
        problems.append(
            f"{place}.meaning: missing (the sentence the signer signs, 1-{MEANING_MAX} characters)"
        )
        meaning = ""
    users, group_ids = _people(raw.get("signers", "anyone"), people, f"{place}.signers", problems)
    required = _required(raw.get("required", 1), users, group_ids, place, problems)
    _check_group_size(required, users, group_ids, people, place, problems)
    after = raw.get("escalate_after")
    escalate_after = None
    if after is not None:
        escalate_after = _duration(after, f"{place}.escalate_after", problems)
    escalate_users: tuple[str, ...] = ()
    escalate_groups: tuple[str, ...] = ()
    if "escalate_to" in raw:
        escalate_users, escalate_groups = _people(
            raw["escalate_to"], people, f"{place}.escalate_to", problems, anyone=False
        )
        if after is None:
            problems.append(f"{place}.escalate_to: given without escalate_after")
    elif after is not None:
        problems.append(f"{place}.escalate_after: given without escalate_to")
    if len(problems) > before:
        return None
    return Stage(
        name=name.strip(),
        meaning=meaning.strip(),
        signers=users,
        groups=group_ids,
        required=required,
        escalate_after=escalate_after,
        escalate_to=escalate_users,
        escalate_groups=escalate_groups,
    )


def _people(
    raw: Any,
    people: _Workspace,
    place: str,
    problems: list[str],
    *,
    anyone: bool = True,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if raw == "anyone" and anyone:
        return (), ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        expected = "a list of user ids and @group handles" + (", or anyone" if anyone else "")
        problems.append(f"{place}: must be {expected}")
        return (), ()
    users: dict[str, None] = {}
    group_ids: dict[str, None] = {}
    for item in raw:
        text = str(item).strip()
        if _USER_ID.fullmatch(text):
            if text in users:
                problems.append(f"{place}: {text} is named twice")
            users[text] = None
        elif GROUP_ID.fullmatch(text):
            group_ids[text] = None
        elif handle := _HANDLE.fullmatch(text):
            group = people.handles.get(handle.group(1))
            if group is None:
                problems.append(f"{place}: unknown user group handle {text}")
            else:
                group_ids[group] = None
        elif text == "anyone":
            problems.append(f"{place}: anyone cannot be combined with named signers")
        else:
            problems.append(
                f"{place}: “{text[:40]}” is neither a Slack user id (U…) nor a user group "
                "(@handle or S…)"
            )
    return tuple(users), tuple(group_ids)


def _required(
    raw: Any, users: tuple[str, ...], group_ids: tuple[str, ...], place: str, problems: list[str]
) -> int | None:
    if raw == "all":
        if group_ids or not users:
            problems.append(f"{place}.required: all needs signers named one by one (no groups)")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        problems.append(f"{place}.required: must be a number of at least 1, or all")
        return 1
    if users and not group_ids and raw > len(users):
        problems.append(
            f"{place}.required: {raw} is more than the {len(users)} named signer"
            + ("s" if len(users) > 1 else "")
        )
    return raw


def _check_group_size(
    required: int | None,
    users: tuple[str, ...],
    group_ids: tuple[str, ...],
    people: _Workspace,
    place: str,
    problems: list[str],
) -> None:
    """`required` against everyone a stage names, its groups' members included, when Slack
    listed every one of its groups at start (membership changes later; each signature checks
    it again)."""
    for group in group_ids:
        if group in people.members and people.members[group] is None:
            problems.append(f"{place}.signers: Slack knows no user group {people.named(group)}")
    if required is None or not group_ids:
        return
    listed = [people.members.get(group) for group in group_ids]
    if any(found is None for found in listed):
        return
    everyone = set(users).union(*(found for found in listed if found is not None))
    if required > len(everyone):
        groups = ", ".join(people.named(group) for group in group_ids)
        named = f"{len(users)} named and " if users else ""
        problems.append(
            f"{place}.required: {required} is more than the {len(everyone)} people who can "
            f"sign ({named}the members of {groups}, as Slack lists them now)"
        )


def _duration(raw: Any, place: str, problems: list[str]) -> timedelta | None:
    found = _DURATION.fullmatch(str(raw).strip())
    if found is None or int(found.group(1)) < 1:
        problems.append(f"{place}: “{str(raw)[:20]}” is not a duration like 30m, 24h or 2d")
        return None
    return int(found.group(1)) * _UNITS[found.group(2)]


__all__ = ["DEFAULT_BOOK", "DEFAULT_POLICY_NAME", "GROUP_ID", "PolicyBook", "parse_policies"]
