"""The sandbox's refusals, each carrying the HTTP status and body the emulated service answers.

    SandboxError       status + JSON body (+ headers); routes turn it into the response
    ├── ApiError       ApprovalFlow's app-level error: {"success": false, "error": "..."}
    ├── GatewayError   the Atlassian API gateway's refusal: {"code": N, "message": "..."}
    ├── OAuthError     the token endpoint's error: {"error": "...", "error_description": "..."}
    ├── ConfluenceError  Confluence v2's error: {"errors": [{"status", "code", "title", ...}]}
    └── AdminError     a refused control call: {"error": "..."}

In-process callers of `SandboxState` catch these too: `.status` and `.body()` say what an HTTP
client would have seen.
"""

from __future__ import annotations

from typing import Any


class SandboxError(Exception):
    """A refusal with the HTTP status and JSON body the emulated service would send."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> Any:
        return {"error": self.message}


class ApiError(SandboxError):
    """ApprovalFlow's own error body (approvalflow-api.md §3.1)."""

    def body(self) -> Any:
        return {"success": False, "error": self.message}


class GatewayError(SandboxError):
    """A refusal by the API gateway before ApprovalFlow's code runs."""

    def body(self) -> Any:
        return {"code": self.status, "message": self.message}


class OAuthError(SandboxError):
    """An OAuth 2.0 error from the token endpoint (atlassian-3lo.md §2)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(status, description)
        self.error = error

    def body(self) -> Any:
        return {"error": self.error, "error_description": self.message}


class ConfluenceError(SandboxError):
    """Confluence REST API v2's error body: a list of errors, each with status, code and title."""

    def __init__(self, status: int, code: str, title: str) -> None:
        super().__init__(status, title)
        self.code = code

    def body(self) -> Any:
        return {
            "errors": [
                {"status": self.status, "code": self.code, "title": self.message, "detail": None}
            ]
        }


class AdminError(SandboxError):
    """A control call the sandbox refuses (unknown page, not a reviewer on this step ...)."""
