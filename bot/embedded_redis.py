"""A private redis-server child process for when REDIS_URL is unset (ARCHITECTURE §4)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.errors import ConfigError, StoreError

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, SIGTERM it when the bot dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


MISSING_BINARY = (
    "REDIS_URL is unset, so the bot wants to start its own redis-server, but none is installed. "
    "Install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) "
    "or set REDIS_URL to a Redis server you run."
)


class EmbeddedRedis:
    """Starts redis-server on a unix socket under DATA_DIR with the append-only file on."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.socket_path = self.data_dir / "redis.sock"
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    async def start(self, wait_seconds: float = 15.0) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError(MISSING_BINARY)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A unix socket path is limited to ~100 bytes; say so instead of failing obscurely.
        if len(str(self.socket_path)) > 100:
            raise ConfigError(f"DATA_DIR is too long a path for a unix socket: {self.data_dir}")
        self.socket_path.unlink(missing_ok=True)
        self._proc = await asyncio.create_subprocess_exec(
            binary,
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        await self._wait_until_answering(wait_seconds)
        log.info("embedded redis-server started", extra={"socket": str(self.socket_path)})
        return self.url

    async def _wait_until_answering(self, wait_seconds: float) -> None:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while True:
            if self._proc is not None and self._proc.returncode is not None:
                raise StoreError(
                    f"the embedded redis-server exited at start; see {self.data_dir / 'redis.log'}"
                )
            if self.socket_path.exists():
                client = Redis.from_url(self.url)
                try:
                    if await client.ping():
                        return
                except (RedisError, OSError):
                    pass
                finally:
                    await client.aclose()
            if asyncio.get_running_loop().time() > deadline:
                await self.stop()
                raise StoreError("the embedded redis-server did not answer in time")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()  # SIGTERM: redis-server flushes the append-only file and exits
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.info("embedded redis-server stopped")
