"""SIGNING_POLICIES at start when Slack answers in part: what is checked, what is refused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.policies import load_policies
from services.errors import ConfigError, NotFound, UpstreamUnavailable

FILE = """
default: x
policies:
  x:
    stages:
      - name: Review
        meaning: I reviewed them
        signers: ["@doc-reviewers"]
        required: 3
"""


async def handles() -> dict[str, str]:
    return {"doc-reviewers": "S0REVIEW"}


async def test_a_group_too_small_for_required_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policies.yml"
    path.write_text(FILE)
    asked: list[str] = []

    async def two(group: str) -> frozenset[str]:
        asked.append(group)
        return frozenset({"U0CAROL", "U0DAVE"})

    with pytest.raises(ConfigError) as refused:
        await load_policies(path, handles, two)
    assert "stages[1].required: 3 is more than the 2 people who can sign" in str(refused.value)
    assert asked == ["S0REVIEW"], "each group asked once"


async def test_a_group_slack_does_not_know_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policies.yml"
    path.write_text(FILE.replace('"@doc-reviewers"', "S0GONE"))

    async def gone(group: str) -> frozenset[str]:
        raise NotFound(f"no group {group}")

    with pytest.raises(ConfigError) as refused:
        await load_policies(path, handles, gone)
    assert "stages[1].signers: Slack knows no user group S0GONE" in str(refused.value)


async def test_slack_not_answering_for_members_starts_with_the_size_unchecked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policies.yml"
    path.write_text(FILE)

    async def down(group: str) -> frozenset[str]:
        raise UpstreamUnavailable("usergroups.users.list: no answer")

    with caplog.at_level(logging.WARNING, logger="bot.policies"):
        book = await load_policies(path, handles, down)
    assert book.policies["x"].stages[0].required == 3
    assert "not checked against its size" in caplog.text
