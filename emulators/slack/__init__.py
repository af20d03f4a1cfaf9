"""An emulated Slack workspace: the Web API the bot calls, with state tests and pages inspect."""

from __future__ import annotations

from emulators.slack.emulator import FakeSlack
from emulators.slack.records import (
    Call,
    FakeFile,
    FakeMessage,
    FakeUser,
    FakeUsergroup,
    FakeView,
    ResponsePost,
    SlackFailure,
)

__all__ = [
    "Call",
    "FakeFile",
    "FakeMessage",
    "FakeSlack",
    "FakeUser",
    "FakeUsergroup",
    "FakeView",
    "ResponsePost",
    "SlackFailure",
]
