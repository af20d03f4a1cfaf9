"""Where `serve` listens: loopback for the playground unless the operator names a host."""

from __future__ import annotations

from bot.server import ALL_INTERFACES, LOOPBACK, listen_host


def test_the_playground_listens_on_loopback_only() -> None:
    assert listen_host(None, playground=True) == LOOPBACK == "127.0.0.1"


def test_a_bot_with_slack_credentials_listens_on_every_interface() -> None:
    assert listen_host(None, playground=False) == ALL_INTERFACES == "0.0.0.0"  # noqa: S104


def test_a_host_the_operator_names_is_kept_in_either_mode() -> None:
    assert listen_host("0.0.0.0", playground=True) == "0.0.0.0"  # noqa: S104
    assert listen_host("10.1.2.3", playground=False) == "10.1.2.3"
