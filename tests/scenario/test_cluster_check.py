"""`approvals-bot check` and /healthz on a Redis Cluster: the nodes named, the state said."""

from __future__ import annotations

from emulators.slack import FakeSlack
from testkit.redis_cluster import ThrowawayCluster
from tests.scenario.test_cli import env_for, run_cli


async def test_check_names_every_node_of_the_cluster_and_its_state(
    fake_slack: FakeSlack, redis_cluster: ThrowawayCluster
) -> None:
    code, out, _ = await run_cli("check", env=env_for(fake_slack, redis_cluster.url))
    assert code == 0, out
    lines = out.strip().splitlines()
    [store] = [line for line in lines if line.startswith("store")]
    assert store.split()[:2] == ["store", "ok"] and "Redis Cluster via node" in store
    assert any("cluster_state ok, 16384 of 16384 slots served" in line for line in lines)
    nodes = [line.split() for line in lines if line.split()[:1] == ["node"]]
    assert sorted(int(n[1].rsplit(":", 1)[1]) for n in nodes) == sorted(redis_cluster.procs)
    assert sorted(n[2] for n in nodes) == ["master"] * 3 + ["replica"] * 3
    assert {n[3] for n in nodes} == {"ok"}
    masters = {n[1] for n in nodes if n[2] == "master"}
    assert sum(int(n[4]) for n in nodes if n[2] == "master") == 16384
    assert {n[-1] for n in nodes if n[2] == "replica"} == masters, "each replica names its master"
