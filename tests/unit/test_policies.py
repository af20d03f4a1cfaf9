"""Signing policies read from their document: what a good file gives, every mistake named."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from services.errors import ConfigError
from services.requests.model import DEFAULT_POLICY_NAME, Policy, Stage
from services.requests.policies import DEFAULT_BOOK, parse_policies

GROUPS = {"doc-reviewers": "S0REVIEW", "doc-leads": "S0LEADS"}
GOOD = """
default: doc-control
policies:
  doc-control:
    description: Author, two reviewers, QA
    stages:
      - name: Author
        meaning: I am the author of these changes
        signers: [U0ALICE]
      - name: Review
        meaning: I reviewed them
        signers: ["@doc-reviewers", U0BOB]
        required: 2
        escalate_after: 24h
        escalate_to: [U0LEAD, "@doc-leads"]
      - name: QA
        meaning: I approve submitting them for review
        signers: [U0QA1, U0QA2]
        required: all
  quick:
    stages:
      - name: Approval
        meaning: I approve
        signers: anyone
"""


def parse(text: str) -> Any:
    return parse_policies(yaml.safe_load(text), GROUPS, "policies.yml")


def test_a_good_file() -> None:
    book = parse(GOOD)
    assert book.default == "doc-control" and book.names() == ["doc-control", "quick"]
    policy = book.policies["doc-control"]
    assert policy.stages[1] == Stage(
        "Review",
        "I reviewed them",
        signers=("U0BOB",),
        groups=("S0REVIEW",),
        required=2,
        escalate_after=timedelta(hours=24),
        escalate_to=("U0LEAD",),
        escalate_groups=("S0LEADS",),
    )
    assert policy.stages[2].required is None and policy.stages[2].quorum == 2
    assert book.policies["quick"].stages[0].anyone
    assert [p.name for p in book.listed()] == ["doc-control", "quick"], "the default first"


def test_choosing() -> None:
    book = parse(GOOD)
    assert book.choose(None, (), ()).name == "doc-control"
    assert book.choose("quick", (), ()).name == "quick"
    named = book.choose(None, ("U0BOB",), ("S0X",))
    assert named.name == DEFAULT_POLICY_NAME and named.stages[0].signers == ("U0BOB",)
    with pytest.raises(KeyError):
        book.choose("nope", (), ())
    built_in = DEFAULT_BOOK.choose(None, (), ())
    assert isinstance(built_in, Policy) and built_in.stages[0].anyone
    assert built_in.stages[0].quorum == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]", "the file must be a mapping"),
        ("default: x\n", "policies: missing"),
        ("default: x\npolicies: {x: {stages: []}}", "policies.x.stages: missing"),
        (
            "default: x\npolicies: {x: {stages: [{name: A, meaning: m, signers: ['@doc-leads'],"
            " required: all}]}}",
            "policies.x.stages[1].required: all needs signers named one by one",
        ),
        (
            "default: x\npolicies: {x: {stages: [{name: A, meaning: m, escalate_to: [U0X]}]}}",
            "policies.x.stages[1].escalate_to: given without escalate_after",
        ),
        (
            "default: x\npolicies: {x: {stages: [{name: A, meaning: m, signers: [bob]}]}}",
            "“bob” is neither a Slack user id",
        ),
        (
            "default: x\npolicies: {x: {stages: [{name: A, meaning: m, required: 0}]}}",
            "policies.x.stages[1].required: must be a number of at least 1, or all",
        ),
        (
            "default: x\npolicies: {x: {stages: [{name: A, meaning: m}]}, X: {stages: []}}",
            "policies.X: duplicate name (also x)",
        ),
        ("default: y\npolicies: {x: {stages: [{name: A, meaning: m}]}}", "default: “y”"),
    ],
)
def test_each_mistake_is_named_with_its_place(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(text)
    assert problem in str(refused.value), str(refused.value)


def test_every_problem_in_one_message() -> None:
    text = (
        "default: x\nextra: 1\npolicies: {x: {stages: [{name: A, signers: ['@nobody'],"
        " required: 3, escalate_after: soon}]}}"
    )
    with pytest.raises(ConfigError) as refused:
        parse(text)
    message = str(refused.value)
    assert message.startswith("policies.yml has 5 problems:")
    for part in (
        "extra: unknown key",
        "meaning: missing",
        "unknown user group handle @nobody",
        "“soon” is not a duration",
        "escalate_after: given without escalate_to",
    ):
        assert part in message, message


GROUP_STAGES = """
default: x
policies:
  x:
    stages:
      - name: Review
        meaning: I reviewed them
        signers: ["@doc-reviewers", U0BOB]
        required: {required}
      - name: Leads
        meaning: I lead
        signers: [S0LEADS]
"""


def test_required_is_checked_against_the_groups_members_slack_lists() -> None:
    members = {"S0REVIEW": frozenset({"U0CAROL", "U0BOB"}), "S0LEADS": frozenset({"U0LEAD"})}
    document = yaml.safe_load(GROUP_STAGES.format(required=2))
    assert parse_policies(document, GROUPS, "policies.yml", members).default == "x"
    with pytest.raises(ConfigError) as refused:
        parse_policies(yaml.safe_load(GROUP_STAGES.format(required=3)), GROUPS, "p", members)
    assert (
        "policies.x.stages[1].required: 3 is more than the 2 people who can sign (1 named and "
        "the members of @doc-reviewers, as Slack lists them now)" in str(refused.value)
    )
    # A group Slack did not answer for is not checked; one it does not know is a problem.
    assert parse_policies(yaml.safe_load(GROUP_STAGES.format(required=3)), GROUPS, "p", {})
    with pytest.raises(ConfigError) as unknown:
        parse_policies(document, GROUPS, "p", {**members, "S0LEADS": None})
    assert "policies.x.stages[2].signers: Slack knows no user group @doc-leads" in str(
        unknown.value
    )
