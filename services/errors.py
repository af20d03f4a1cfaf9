"""The one error tree of approvals-bot; foreign exceptions are mapped into it at their boundary.

    ApprovalsError                  base of every error we raise on purpose
    ├── UserError                   an expected failure; its message is shown to the user as is
    │   ├── InputError              malformed input: bad subcommand, target, code format ...
    │   ├── NotAllowed              the caller may not do this (not an admin, not a reviewer ...)
    │   └── NotFound                the thing named does not exist (or no longer does)
    ├── ConfigError                 the configuration is missing or malformed (startup only)
    ├── StoreError                  the store failed or did not answer (mapped from redis)
    ├── SecretError                 a stored secret cannot be decrypted with any configured key
    └── UpstreamError               an outside HTTP service failed (mapped from httpx / authlib)
        ├── UpstreamTimeout         no answer in time
        └── UpstreamUnavailable     connection refused, 5xx, or an unusable answer

Boundaries that map foreign exceptions into this tree (one each):
    redis      -> StoreError        bot/stores/_boundary.py
    cryptography -> SecretError     services/secretbox.py
    slack_sdk  -> handled by the one `@app.error` handler in handlers/errors.py

Every message a `UserError` carries is written for the person who will read it in Slack: it
says what happened and what to do next, and never holds a secret.
"""

from __future__ import annotations


class ApprovalsError(Exception):
    """Base of every error approvals-bot raises on purpose."""


class UserError(ApprovalsError):
    """An expected business failure whose message the user sees as is."""


class InputError(UserError):
    """The user's input is malformed; the message names the exact problem."""


class NotAllowed(UserError):
    """The caller is not allowed to do this."""


class NotFound(UserError):
    """The thing the user named does not exist, or no longer does."""


class ConfigError(ApprovalsError):
    """The configuration is missing or malformed; the message names every problem."""


class StoreError(ApprovalsError):
    """The store failed or did not answer."""


class SecretError(ApprovalsError):
    """A stored secret cannot be decrypted with any configured key."""


class UpstreamError(ApprovalsError):
    """An outside HTTP service failed."""


class UpstreamTimeout(UpstreamError):
    """An outside HTTP service did not answer in time."""


class UpstreamUnavailable(UpstreamError):
    """An outside HTTP service refused the connection, failed, or answered nonsense."""
