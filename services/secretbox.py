"""Secrets at rest: MultiFernet over ENCRYPTION_KEYS (the first key encrypts, all decrypt)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.errors import ConfigError, SecretError


class SecretBox:
    """Seals bytes or JSON documents so a store dump never holds a secret in clear."""

    def __init__(self, keys: list[str]) -> None:
        raw_keys(keys)  # one message for a bad key list, whoever reads it first
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def seal(self, plain: bytes) -> bytes:
        return self._fernet.encrypt(plain)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken as exc:
            # Never include the token: the message may end up in a log.
            raise SecretError(
                "a stored secret cannot be decrypted with the configured keys"
            ) from exc

    def seal_json(self, document: dict[str, Any]) -> bytes:
        return self.seal(json.dumps(document, separators=(",", ":")).encode())

    def open_json(self, sealed: bytes) -> dict[str, Any]:
        value = json.loads(self.open(sealed))
        if not isinstance(value, dict):
            raise SecretError("a stored secret is not a JSON object")
        return value

    def rotate(self, sealed: bytes) -> bytes:
        """Re-encrypt with the first key (for key rotation)."""
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken as exc:
            raise SecretError(
                "a stored secret cannot be decrypted with the configured keys"
            ) from exc


def raw_keys(keys: Sequence[str]) -> list[bytes]:
    """The 32 bytes of each ENCRYPTION_KEYS key, decoded as Fernet decodes them, in order.
    A bad list raises ConfigError with the rule, never the key (the message may be logged)."""
    if not keys:
        raise ConfigError("ENCRYPTION_KEYS: at least one key is needed")
    decoded = []
    for key in keys:
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ConfigError(
                "ENCRYPTION_KEYS: each key must be a urlsafe base64 32-byte Fernet key "
                "(make one with `approvals-bot keygen`)"
            )
        decoded.append(raw)
    return decoded


def new_key() -> str:
    """A fresh Fernet key, as `approvals-bot keygen` prints it."""
    return Fernet.generate_key().decode()
