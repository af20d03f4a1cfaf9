"""Encryption at rest: round trips, key rotation, and failures that leak nothing."""

from __future__ import annotations

import pytest

from services.errors import ConfigError, SecretError
from services.secretbox import SecretBox, new_key


def test_round_trip_and_no_clear_text() -> None:
    box = SecretBox([new_key()])
    sealed = box.seal_json({"refresh_token": "rt-very-secret"})
    assert b"rt-very-secret" not in sealed
    assert box.open_json(sealed) == {"refresh_token": "rt-very-secret"}


def test_old_key_still_decrypts_and_rotation_moves_to_the_first() -> None:
    old, new = new_key(), new_key()
    sealed = SecretBox([old]).seal(b"seed")
    rotated_box = SecretBox([new, old])
    assert rotated_box.open(sealed) == b"seed"
    assert SecretBox([new]).open(rotated_box.rotate(sealed)) == b"seed"


def test_wrong_key_is_a_secret_error_without_the_token() -> None:
    sealed = SecretBox([new_key()]).seal(b"seed")
    with pytest.raises(SecretError) as caught:
        SecretBox([new_key()]).open(sealed)
    assert sealed.decode() not in str(caught.value)


def test_bad_keys_are_a_config_error() -> None:
    with pytest.raises(ConfigError):
        SecretBox(["short"])
    with pytest.raises(ConfigError):
        SecretBox([])
