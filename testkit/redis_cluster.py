"""Starts a throwaway Redis Cluster (3 masters, 3 replicas) on free ports, for tests and benches.

Built the way an operator builds one: six `redis-server --cluster-enabled yes` processes, then
`redis-cli --cluster create ... --cluster-replicas 1`. The node timeout is short (1 s) so that a
failover test sees a replica promoted within a couple of seconds.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from testkit.redis_server import free_port

NODE_TIMEOUT_MS = 1000


def _bindable(port: int) -> bool:
    if port > 65535:
        return False
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _binary(name: str) -> str:
    """The full path of redis-server or redis-cli."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: apt-get install redis-server redis-tools")
    return path


def _cli(port: int, *args: str) -> str:
    done = subprocess.run(
        [_binary("redis-cli"), "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout


def _info(port: int, section: str) -> dict[str, str]:
    """`CLUSTER INFO` for "cluster", else the INFO section (name: value pairs)."""
    command = ("cluster", "info") if section == "cluster" else ("info", section)
    pairs = (line.split(":", 1) for line in _cli(port, *command).splitlines())
    return {name: value.strip() for name, value, *_ in (p for p in pairs if len(p) == 2)}


@dataclass
class ThrowawayCluster:
    """A running cluster: its processes by port, and what a test may do to them."""

    workdir: Path
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The bot's REDIS_URL: any one node (the first that is up) is enough."""
        port = next(p for p, proc in self.procs.items() if proc.poll() is None)
        return f"redis+cluster://127.0.0.1:{port}"

    def start_node(self, port: int) -> None:
        """Start (or restart, with its saved cluster config) the node on this port."""
        node_dir = self.workdir / str(port)
        node_dir.mkdir(exist_ok=True)
        self.procs[port] = subprocess.Popen(
            [
                _binary("redis-server"),
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node_dir / "nodes.conf"),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(node_dir),
                "--daemonize", "no",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while _cli(port, "ping").strip() != "PONG":
            if time.monotonic() > deadline or self.procs[port].poll() is not None:
                raise RuntimeError(f"a cluster node on port {port} did not start")
            time.sleep(0.02)

    def masters(self) -> list[int]:
        """Ports of the live nodes that are masters now."""
        return [
            port
            for port, proc in self.procs.items()
            if proc.poll() is None and _info(port, "replication").get("role") == "master"
        ]

    def master_of_slot(self, slot: int) -> int:
        for line in _cli(self.live_port(), "cluster", "nodes").splitlines():
            parts = line.split()
            if "master" not in parts[2] or "fail" in parts[2]:
                continue
            for span in parts[8:]:
                low, _, high = span.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return int(parts[1].split(":")[1].split("@")[0])
        raise RuntimeError(f"no live master serves slot {slot}")

    def live_port(self) -> int:
        return next(p for p, proc in self.procs.items() if proc.poll() is None)

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crashed machine would go."""
        proc = self.procs[port]
        proc.kill()
        proc.wait(timeout=10)

    def wait_ok(self, timeout: float = 20.0, replicas: int = 3) -> None:
        """Until every live node says the cluster is ok and `replicas` replicas are in sync."""
        deadline = time.monotonic() + timeout
        while True:
            live = [p for p, proc in self.procs.items() if proc.poll() is None]
            states = [_info(p, "cluster").get("cluster_state") for p in live]
            synced = sum(
                1
                for p in live
                if _info(p, "replication").get("role") == "slave"
                and _info(p, "replication").get("master_link_status") == "up"
            )
            if all(state == "ok" for state in states) and synced >= replicas:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster is not ok: {states}, {synced} replicas in sync")
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def throwaway_cluster() -> Iterator[ThrowawayCluster]:
    """Yield a fresh 3-master, 3-replica cluster; stop and remove it afterwards."""
    for binary in ("redis-server", "redis-cli"):
        _binary(binary)
    cluster = ThrowawayCluster(Path(tempfile.mkdtemp(prefix="approvals-test-cluster-")))
    try:
        ports: list[int] = []
        while len(ports) < 6:
            port = free_port()
            # The cluster bus listens on port + 10000: both must be free.
            if port not in ports and _bindable(port + 10000):
                ports.append(port)
        for port in ports:
            cluster.start_node(port)
        created = subprocess.run(
            [
                _binary("redis-cli"),
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-500:]}")
        cluster.wait_ok()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.workdir, ignore_errors=True)
