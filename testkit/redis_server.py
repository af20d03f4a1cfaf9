"""Starts a throwaway redis-server on a free port (no disk), for tests and benchmarks."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Ports handed out here sit below the kernel's ephemeral range, so a server elsewhere that binds
# port 0 between our check and our use can never be given the same one; each pytest-xdist worker
# takes its own slice, and each process starts at a random place in it.
_LOWEST_PORT = 10000
_SLICES = 16


def _ephemeral_floor() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_candidates() -> Iterator[int]:
    floor = max(_ephemeral_floor(), _LOWEST_PORT + _SLICES * 64)
    width = (floor - _LOWEST_PORT) // _SLICES
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")[2:]
    start = _LOWEST_PORT + width * (int(worker) % _SLICES if worker.isdigit() else _SLICES - 1)
    offset = random.randrange(width)
    while True:
        offset = (offset + 1) % width
        yield start + offset


_candidates = _port_candidates()


def free_port() -> int:
    """A loopback port nothing listens on now, and that no port-0 bind will be given."""
    for _ in range(1000):
        port = next(_candidates)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")


@contextmanager
def throwaway_redis() -> Iterator[str]:
    """Yield the URL of a fresh redis-server; stop and remove it afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="approvals-test-redis-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the throwaway redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
