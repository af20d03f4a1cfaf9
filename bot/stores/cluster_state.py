"""Whether a Redis Cluster can serve the bot: its nodes, their roles and states, as it sees them.

The bot's keys spread over the whole slot range (sharded indexes, leases, sign-in states), so it
can serve only while every slot has a master that answers. That is asked of the cluster itself
(`CLUSTER INFO`, `CLUSTER NODES` from the first node that answers) and checked from here (a PING
to each master that holds slots), each node given a short time, never redis-py's long retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio.cluster import ClusterNode, RedisCluster

from bot.stores._boundary import REDIS_FAILURES
from services.errors import StoreError

# How long one node may take to answer one question before it counts as down.
NODE_TIMEOUT_SECONDS = 1.0
SLOTS = 16384

_T = TypeVar("_T")
# What a node that is down, or too slow, raises here.
_DOWN: tuple[type[Exception], ...] = (*REDIS_FAILURES, OSError, TimeoutError)


@dataclass(frozen=True)
class NodeState:
    """One node as the cluster describes it."""

    address: str
    role: str  # "master" or "replica"
    state: str  # "ok", "suspect" (PFAIL), "fail", "handshake", "disconnected"
    slots: int
    master: str | None  # a replica's master's address


@dataclass(frozen=True)
class ClusterState:
    """The cluster's own verdict, its nodes, and what (if anything) stops it serving the bot."""

    state: str
    slots_ok: int
    nodes: tuple[NodeState, ...]
    problem: str | None

    @property
    def serving(self) -> bool:
        return self.problem is None


async def _ask(call: Awaitable[_T]) -> _T:
    return await asyncio.wait_for(call, NODE_TIMEOUT_SECONDS)


def _node_states(reply: dict[str, dict[str, Any]]) -> tuple[NodeState, ...]:
    ids = {detail["node_id"]: address for address, detail in reply.items()}
    nodes = []
    for address, detail in reply.items():
        flags = set(str(detail["flags"]).split(","))
        role = "master" if "master" in flags else "replica"
        if "fail" in flags:
            state = "fail"
        elif "fail?" in flags:
            state = "suspect"
        elif "handshake" in flags or "noaddr" in flags:
            state = "handshake"
        elif not detail["connected"] and "myself" not in flags:
            state = "disconnected"
        else:
            state = "ok"
        slots = sum(
            int(span[1]) - int(span[0]) + 1 if len(span) == 2 else 1
            for span in detail.get("slots") or []
        )
        master = ids.get(detail["master_id"]) if role == "replica" else None
        nodes.append(NodeState(address.split("@")[0], role, state, slots, master))
    return tuple(sorted(nodes, key=lambda n: (n.role != "master", n.address)))


async def cluster_state(redis: RedisCluster) -> ClusterState:
    """Ask the first node that answers how the cluster stands, then PING every master with
    slots from here; StoreError when no node answers at all."""
    info: dict[str, Any] | None = None
    reply: dict[str, dict[str, Any]] = {}
    try:
        await redis.initialize()  # the first use learns the nodes; later calls return at once
    except _DOWN as exc:
        raise StoreError(f"no node of the Redis Cluster answers ({type(exc).__name__})") from exc
    for node in redis.get_nodes():
        try:
            info = await _ask(redis.execute_command("CLUSTER INFO", target_nodes=node))
            reply = await _ask(redis.execute_command("CLUSTER NODES", target_nodes=node))
            break
        except _DOWN:
            continue
    if info is None:
        raise StoreError("no node of the Redis Cluster answers")
    nodes = _node_states(reply)
    state = str(info.get("cluster_state", "unknown"))
    slots_ok = int(info.get("cluster_slots_ok", 0))
    problem = None
    if state != "ok" or slots_ok < SLOTS:
        problem = f"the cluster says {state}: {slots_ok} of {SLOTS} slots served"
    else:
        unreachable = [
            n.address
            for n in nodes
            if n.role == "master" and n.slots and not await _pings(redis, n)
        ]
        if unreachable:
            problem = f"masters holding slots do not answer: {', '.join(unreachable)}"
    return ClusterState(state, slots_ok, nodes, problem)


async def _pings(redis: RedisCluster, node: NodeState) -> bool:
    host, _, port = node.address.rpartition(":")
    target: ClusterNode | None = redis.get_node(host=host, port=int(port))
    if target is None:  # a node this client has not met yet: the cluster vouches for it
        return node.state == "ok"
    try:
        return bool(await _ask(redis.execute_command("PING", target_nodes=target)))
    except _DOWN:
        return False


class RedisClusterHealth:
    """`StoreHealth` on a cluster: answers only while every slot is served (else StoreError
    saying why, which /healthz shows with its 503)."""

    def __init__(self, redis: RedisCluster) -> None:
        self._redis = redis

    async def ping(self) -> bool:
        state = await cluster_state(self._redis)
        if state.problem is not None:
            raise StoreError(f"the Redis Cluster cannot serve the bot: {state.problem}")
        return True
