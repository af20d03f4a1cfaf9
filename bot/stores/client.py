"""Which Redis the bot talks to: REDIS_URL read once, and the client made from it.

`redis://`, `rediss://` and `unix://` name one Redis server; `redis+cluster://host:port` and
`rediss+cluster://host:port` (TLS) name any one node of a Redis Cluster, from which redis-py's
cluster client learns the others and follows the slots as they move (failover included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import parse_url
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

RedisClient: TypeAlias = Redis | RedisCluster

SINGLE_SCHEMES = ("redis", "rediss", "unix")
# The cluster schemes and the plain scheme redis-py's cluster client takes for each.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

# Every call to the store gives up after this long (ARCHITECTURE: every outbound call has one).
SOCKET_TIMEOUT_SECONDS = 5
# While a failed master's replica is being promoted (cluster-node-timeout plus an election,
# a few seconds), the cluster client refreshes its map of the slots and tries again: this many
# times, waiting 50 ms doubling up to 1 s between tries (about 8 s in all).
CLUSTER_RETRIES = 10
CLUSTER_BACKOFF = ExponentialBackoff(cap=1.0, base=0.05)


@dataclass(frozen=True)
class RedisEndpoint:
    """A checked REDIS_URL: the URL redis-py takes, whether it is a cluster, and a description
    that never holds a password."""

    url: str
    cluster: bool
    description: str


def redis_endpoint(url: str) -> RedisEndpoint:
    """Check a REDIS_URL; a ValueError says what is wrong without echoing the URL (it may hold a
    password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("is not a URL (check the port and any brackets)") from None
    scheme = parts.scheme.lower()
    cluster = scheme in CLUSTER_SCHEMES
    if scheme not in SINGLE_SCHEMES and not cluster:
        raise ValueError(
            "must start with redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://"
        )
    if scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket's path, e.g. unix:///run/redis.sock")
    elif not parts.hostname:
        raise ValueError(f"a {scheme}:// URL needs a host, e.g. {scheme}://localhost:6379")
    database = parts.path.strip("/")
    if cluster and database not in ("", "0"):
        raise ValueError("a Redis Cluster has only database 0: drop the path after host:port")
    if scheme in ("redis", "rediss") and database and not database.isdigit():
        raise ValueError("the path after host:port must be a database number, e.g. /0")
    text = url.strip()
    plain = CLUSTER_SCHEMES[scheme] + text[len(scheme) :] if cluster else text
    try:
        parse_url(plain)
    except ValueError:
        raise ValueError("has an option in its query string that redis-py cannot read") from None
    where = parts.path if scheme == "unix" else f"{parts.hostname}:{port or 6379}"
    tls = " over TLS" if scheme.startswith("rediss") else ""
    kind = "Redis Cluster via node" if cluster else "Redis at"
    return RedisEndpoint(plain, cluster, f"{kind} {where}{tls}")


def connect_redis(endpoint: RedisEndpoint) -> RedisClient:
    """A client for the endpoint (it connects on first use); the caller closes it."""
    if endpoint.cluster:
        return RedisCluster.from_url(
            endpoint.url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry=Retry(CLUSTER_BACKOFF, CLUSTER_RETRIES),
        )
    return Redis.from_url(
        endpoint.url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
