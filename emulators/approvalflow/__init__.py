"""The built-in ApprovalFlow sandbox: an emulator of Atlassian 3LO and ApprovalFlow's 9 endpoints,
and of the Confluence v2 reads beside them (pages by id, spaces by key or id: `confluence`).

`make run` points the bot at it when no Atlassian settings are given; the tests use it as their
Atlassian, ApprovalFlow and Confluence fake. See `state.SandboxState` for every control as a method.
"""

from __future__ import annotations

from emulators.approvalflow.app import create_sandbox_app, sandbox_server, serve_sandbox
from emulators.approvalflow.state import Fault, SandboxState

__all__ = ["Fault", "SandboxState", "create_sandbox_app", "sandbox_server", "serve_sandbox"]
