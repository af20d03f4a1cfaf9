"""The keys that seal the audit chain: HMAC keys derived from ENCRYPTION_KEYS, named by key ids."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.errors import ConfigError
from services.secretbox import raw_keys

# Binds the derived key to this one use, so it is never the Fernet key itself nor a key derived
# from it for anything else. Changing it (or any other step of `_derive`) orphans every sealed
# entry: verification would report them all as sealed with an unknown key.
AUDIT_KEY_INFO = b"approvals-bot audit chain"

#: Hex digits of a key id (the start of SHA-256 of the derived key): public, stored in entries.
KID_LENGTH = 16


@dataclass(frozen=True)
class AuditKey:
    """One HMAC-SHA256 key. `kid` is public; `secret` never leaves the process's memory."""

    kid: str
    secret: bytes = field(repr=False)

    def mac(self, message: bytes) -> str:
        """HMAC-SHA256 of `message`, as 64 hex digits (the width of a SHA-256 digest)."""
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def _derive(material: bytes) -> AuditKey:
    secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=AUDIT_KEY_INFO).derive(
        material
    )
    return AuditKey(kid=hashlib.sha256(secret).hexdigest()[:KID_LENGTH], secret=secret)


class AuditKeyring:
    """The audit keys, newest first: the first seals new entries, any of them checks an entry."""

    def __init__(self, keys: Iterable[AuditKey]) -> None:
        self._keys = tuple(keys)
        if not self._keys:
            raise ConfigError("ENCRYPTION_KEYS: at least one key is needed")
        self._by_kid: dict[str, AuditKey] = {}
        for key in self._keys:
            self._by_kid.setdefault(key.kid, key)

    @classmethod
    def from_fernet_keys(cls, fernet_keys: Sequence[str]) -> AuditKeyring:
        """One audit key per ENCRYPTION_KEYS entry, in the same order (newest first)."""
        return cls(_derive(raw) for raw in raw_keys(fernet_keys))

    @classmethod
    def throwaway(cls) -> AuditKeyring:
        """A random key that dies with the process, for a log nobody will verify later."""
        return cls([_derive(secrets.token_bytes(32))])

    @property
    def sealing(self) -> AuditKey:
        """The key new entries are sealed with: the newest."""
        return self._keys[0]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(key.kid for key in self._keys)

    def find(self, kid: str) -> AuditKey | None:
        """The configured key with this id, or None if no configured key has it."""
        return self._by_kid.get(kid)

    def __repr__(self) -> str:
        return f"AuditKeyring(kids={list(self.kids)!r})"
