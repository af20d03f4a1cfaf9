"""Which Redis the bot talks to: REDIS_URL read once, and the client made from it.

`redis://`, `rediss://` and `unix://` name one Redis server; `redis+cluster://host:port` and
`rediss+cluster://host:port` (TLS) name any one node of a Redis Cluster, from which redis-py's
cluster client learns the others and follows the slots as they move (failover included).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterDownError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

RedisClient: TypeAlias = Redis | RedisCluster

SINGLE_SCHEMES = ("redis", "rediss", "unix")
# The cluster schemes and the plain scheme redis-py's cluster client takes for each.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

# Every call to the store gives up after this long (ARCHITECTURE: every outbound call has one).
SOCKET_TIMEOUT_SECONDS = 5
# redis-py's own retries on a cluster: after a connection error or CLUSTERDOWN it refreshes its
# map of the slots and tries again, at once for a command, 250 ms apart for a pipeline.
CLUSTER_RETRIES = 4
# While a dead master's replica is being promoted (cluster-node-timeout, then an election), a
# command meets a refused connection or CLUSTERDOWN. Neither ran it, so it is sent again, on
# the refreshed map, 50 ms doubling to 500 ms apart, for at most this long; then the caller gets
# StoreError. A command that may have run (the connection dropped after sending) is not sent
# again by this loop.
FAILOVER_WAIT_SECONDS = 5.0
_FIRST_PAUSE, _LONGEST_PAUSE = 0.05, 0.5


def never_ran(error: Exception) -> bool:
    """True when the server cannot have run the command: the cluster refused it, or no
    connection to the node could be made."""
    if isinstance(error, ClusterDownError | TryAgainError | SlotNotCoveredError):
        return True
    if isinstance(error, RedisTimeoutError):
        return str(error) == "Timeout connecting to server"
    if isinstance(error, RedisConnectionError):
        return isinstance(error.__context__, OSError) and " connecting to " in str(error)
    return False


class FailoverAwareCluster(RedisCluster):
    """redis-py's asyncio cluster client, which also waits out a failover (see
    FAILOVER_WAIT_SECONDS) instead of failing every command sent meanwhile."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FAILOVER_WAIT_SECONDS
        pause = _FIRST_PAUSE
        while True:
            try:
                return await super().execute_command(*args, **kwargs)
            except (RedisError, RedisClusterException) as error:
                if not never_ran(error) or loop.time() + pause > deadline:
                    raise
            self._initialize = True  # ask the cluster for its slots again before the next try
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)


class _PackedByHiredis(AbstractConnection):
    """A connection whose commands hiredis packs, in C: redis-py's asyncio connection packs
    each argument in Python (28 µs for an audit append's script call of 35 arguments, 2.5 µs in
    hiredis). What hiredis does not take (a command name of two words, a bool, a memoryview)
    goes to redis-py's own packing, which sends or refuses it as before."""

    def pack_command(self, *args: Any) -> list[bytes]:
        name = args[0]
        if (" " if isinstance(name, str) else b" ") in name or self.encoder.encoding != "utf-8":
            return super().pack_command(*args)
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return super().pack_command(*args)


class PackedConnection(_PackedByHiredis, Connection):
    """TCP (redis://)."""


class PackedSSLConnection(_PackedByHiredis, SSLConnection):
    """TLS (rediss://)."""


class PackedUnixConnection(_PackedByHiredis, UnixDomainSocketConnection):
    """A unix socket (unix://, the embedded store)."""


# redis-py's connection class for a URL -> ours.
_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: PackedConnection,
    SSLConnection: PackedSSLConnection,
    UnixDomainSocketConnection: PackedUnixConnection,
}


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
        return FailoverAwareCluster.from_url(
            endpoint.url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), CLUSTER_RETRIES),
        )
    options: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
        "health_check_interval": 30,
    }
    options.update(parse_url(endpoint.url))  # as Redis.from_url: the URL's options win
    options["connection_class"] = _PACKED[options.get("connection_class", Connection)]
    return Redis.from_pool(ConnectionPool(**options))
