"""REDIS_URL: one Redis or a Redis Cluster; a URL the bot cannot use stops the start clearly."""

from __future__ import annotations

import pytest
from redis.exceptions import ClusterDownError, ResponseError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.config import load_settings
from bot.stores.client import never_ran, redis_endpoint
from services.errors import ConfigError
from services.secretbox import new_key

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "sig", "ENCRYPTION_KEYS": new_key()}


@pytest.mark.parametrize(
    ("url", "cluster", "plain", "description"),
    [
        ("redis://h:6380/2", False, "redis://h:6380/2", "Redis at h:6380"),
        ("rediss://:pw@h", False, "rediss://:pw@h", "Redis at h:6379 over TLS"),
        ("unix:///run/r.sock", False, "unix:///run/r.sock", "Redis at /run/r.sock"),
        ("redis+cluster://n1:7000", True, "redis://n1:7000", "Redis Cluster via node n1:7000"),
        (
            "rediss+cluster://u:pw@n1:7000/0",
            True,
            "rediss://u:pw@n1:7000/0",
            "Redis Cluster via node n1:7000 over TLS",
        ),
    ],
)
def test_accepted_urls(url: str, cluster: bool, plain: str, description: str) -> None:
    endpoint = redis_endpoint(url)
    assert (endpoint.cluster, endpoint.url, endpoint.description) == (cluster, plain, description)
    assert "pw" not in endpoint.description


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://h:6379", "must start with redis://"),
        ("redis-cluster://pw-secret@h:1", "must start with redis://"),
        ("redis+cluster://:pw-secret@h:7000/3", "only database 0"),
        ("redis+cluster://", "needs a host"),
        ("redis://:pw-secret@h:port", "is not a URL"),
        ("redis://h:6379/zero", "database number"),
        ("unix://", "socket's path"),
        ("redis://h:6379/0?socket_timeout=pw-secret", "query string"),
    ],
)
def test_an_unusable_url_stops_the_start_with_one_message(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "REDIS_URL": url})
    message = str(caught.value)
    assert "REDIS_URL" in message and says in message
    assert "pw-secret" not in message, "the URL may hold a password: never echoed"


def test_a_cluster_url_is_what_the_settings_hand_the_composition_root() -> None:
    endpoint = load_settings({**BASE, "REDIS_URL": "redis+cluster://n1:7000"}).redis_endpoint
    assert endpoint is not None and endpoint.cluster
    assert load_settings(dict(BASE)).redis_endpoint is None, "unset: the embedded redis-server"


def test_a_prefix_with_braces_would_break_the_hash_tags() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, "REDIS_PREFIX": "app{1}:"})
    assert "REDIS_PREFIX" in str(caught.value)


def _raised_while_connecting() -> RedisConnectionError:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError:
            raise RedisConnectionError(
                "Error 111 connecting to 127.0.0.1:7000. Connection refused."
            ) from None
    except RedisConnectionError as error:
        return error


def test_only_commands_the_server_cannot_have_run_wait_out_a_failover() -> None:
    # Sent again on the refreshed slot map: refused by the cluster, or never connected.
    assert never_ran(ClusterDownError("CLUSTERDOWN The cluster is down"))
    assert never_ran(TryAgainError("TRYAGAIN"))
    assert never_ran(SlotNotCoveredError("slot 7 is not covered"))
    assert never_ran(RedisTimeoutError("Timeout connecting to server"))
    assert never_ran(_raised_while_connecting())
    # Maybe ran (the connection dropped or timed out after sending): never sent again here.
    assert not never_ran(RedisConnectionError("Connection closed by server."))
    assert not never_ran(RedisTimeoutError("Timeout reading from socket"))
    assert not never_ran(ResponseError("ERR something"))
