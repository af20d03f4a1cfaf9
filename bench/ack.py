"""Issue 2's ack benchmark: signed `/approvals help` load on the real bot and on a bare Bolt app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import multiprocessing.pool
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bench.lean_http import read_response
from emulators.slack import FakeSlack
from emulators.slack.signing import command_body, signed_headers
from services.secretbox import new_key
from testkit.redis_server import free_port, throwaway_redis

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
EVENTS_PATH = "/slack/events"
CONTENT_TYPE = "application/x-www-form-urlencoded"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
COMMAND_TEXT = "help"

BUDGET_THROUGHPUT_RATIO = 0.70
BUDGET_P99_MS = 50.0

# Slack signatures are accepted for 5 minutes and a phase sends one pre-signed request.
MAX_PHASE_SECONDS = 240
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0  # the bot drains background work for up to 10 s on SIGTERM
REQUEST_TIMEOUT_S = 5.0
ERROR_BACKOFF_S = 0.01
# Environment a server subprocess may inherit; everything else is set explicitly.
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")


# ------------------------------------------------------------------------------------ results


@dataclass
class LoadResult:
    """One measured phase against one target, whichever client produced it."""

    target: str
    client: str
    ok: int  # HTTP 200 responses
    errors: int  # non-200 responses, socket errors, timeouts
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float | None = None  # CPU the server used meanwhile (Linux /proc)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_request(self) -> float | None:
        answered = self.ok + self.errors
        if self.server_cpu_s is None or answered == 0:
            return None
        return self.server_cpu_s / answered * 1e6


@dataclass(frozen=True)
class Figures:
    """What the report shows for one target and client: medians over the rounds."""

    target: str
    client: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float | None
    rounds: int

    @classmethod
    def of(cls, results: Sequence[LoadResult]) -> Figures:
        cpu = [r.cpu_us_per_request for r in results if r.cpu_us_per_request is not None]
        return cls(
            target=results[0].target,
            client=results[0].client,
            rps=statistics.median(r.rps for r in results),
            p50_ms=statistics.median(r.p50_ms for r in results),
            p99_ms=statistics.median(r.p99_ms for r in results),
            errors=sum(r.errors for r in results),
            cpu_us=statistics.median(cpu) if cpu else None,
            rounds=len(results),
        )


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_running(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode} under load")


@dataclass(frozen=True)
class Load:
    """How much to send: for `seconds`, or until `requests` have been answered."""

    connections: int
    seconds: int
    requests: int | None

    @property
    def deadline_seconds(self) -> float:
        # A count run is still bounded in time, so a stuck server cannot hang the benchmark.
        return float(self.seconds if self.requests is None else MAX_PHASE_SECONDS)


def percentile(sorted_ms: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0.0 when empty)."""
    if not sorted_ms:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


def signed_request() -> tuple[str, dict[str, str]]:
    """A fresh `/approvals help` form body and its Slack headers (valid for 5 minutes)."""
    body = command_body(COMMAND_TEXT)
    return body, signed_headers(SIGNING_SECRET, body, content_type=CONTENT_TYPE)


# ------------------------------------------------------------------------------------ servers


class Interrupted(Exception):
    """SIGTERM arrived; unwinding stops everything this benchmark started."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def child_env(**settings: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSTHROUGH_ENV if name in os.environ}
    env.update(settings)
    return env


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far, or None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (graceful), then SIGKILL to its process group if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}:\n{_log_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}/healthz did not answer 200 in {STARTUP_TIMEOUT_S:.0f} s")


@contextlib.contextmanager
def server_process(
    name: str, argv: list[str], env: dict[str, str], port: int, log_dir: Path
) -> Iterator[Target]:
    """Run a server in its own session (Ctrl-C reaches only us) and stop it on the way out."""
    log_path = log_dir / f"{name.replace(' ', '-')}.log"
    url = f"http://{HOST}:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(proc, url, log_path)
        yield Target(name=name, url=url, proc=proc)
    finally:
        stop_process(proc)
        if proc.returncode not in (0, -signal.SIGTERM):
            print(f"{name} exited with {proc.returncode}; last log lines:\n{_log_tail(log_path)}")


def check_ack(target: Target) -> None:
    """One signed request through urllib, so a rejected signature fails loudly before the load."""
    body, headers = signed_request()
    request = urllib.request.Request(
        f"{target.url}{EVENTS_PATH}", data=body.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{target.name} answered {exc.code} to a signed command") from None
    if not answer.get("text"):
        raise RuntimeError(f"{target.name} acked without text: {answer!r}")


# ------------------------------------------------------------------------------------ wrk


WRK_SCRIPT = """\
wrk.method = "POST"
wrk.path = "{path}"
wrk.body = [==[{body}]==]
{headers}
non200 = 0

local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local non = 0
  for _, thread in ipairs(threads) do
    non = non + thread:get("non200")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH-RESULT {{\\"requests\\": %d, \\"duration_us\\": %d, \\"non200\\": %d, " ..
    "\\"socket_errors\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d}}\\n",
    summary.requests, summary.duration, non, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script() -> str:
    """A fixed pre-signed request; `response` counts non-200s exactly (wrk counts only >399)."""
    body, headers = signed_request()
    header_lines = "\n".join(
        f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()
    )
    return WRK_SCRIPT.format(path=EVENTS_PATH, body=body, headers=header_lines)


def run_wrk(target: Target, load: Load, seconds: float, threads: int, workdir: Path) -> LoadResult:
    script = workdir / "ack.lua"
    if load.requests is not None:
        raise RuntimeError("wrk runs for a duration; --requests needs --client python")
    script.write_text(wrk_script())
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not on PATH (apt-get install -y wrk), or use --client python")
    argv = [
        wrk,
        f"--threads={threads}",
        f"--connections={load.connections}",
        f"--duration={math.ceil(seconds)}s",
        f"--timeout={REQUEST_TIMEOUT_S:.0f}s",
        "--latency",
        f"--script={script}",
        f"{target.url}{EVENTS_PATH}",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH-RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}\n{err}")
    data = json.loads(line.removeprefix("BENCH-RESULT "))
    errors = int(data["non200"]) + int(data["socket_errors"])
    return LoadResult(
        target=target.name,
        client=f"wrk ({threads} threads)",
        ok=int(data["requests"]) - int(data["non200"]),
        errors=errors,
        seconds=int(data["duration_us"]) / 1e6,
        p50_ms=int(data["p50_us"]) / 1000,
        p99_ms=int(data["p99_us"]) / 1000,
    )


# ------------------------------------------------------------------------------------ Python


@dataclass(frozen=True)
class ClientJob:
    """What one client process sends; `request` is a complete pre-signed HTTP/1.1 request."""

    port: int
    request: bytes
    connections: int
    seconds: float
    requests: int | None
    start_at: float  # time.time() at which every process starts sending


@dataclass
class ClientResult:
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0


def raw_request(port: int) -> bytes:
    body, headers = signed_request()
    lines = [
        f"POST {EVENTS_PATH} HTTP/1.1",
        f"Host: {HOST}:{port}",
        f"Content-Length: {len(body.encode())}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


class _Quota:
    """Requests left to send in this process (None: until the deadline)."""

    def __init__(self, requests: int | None, deadline: float) -> None:
        self.left = requests
        self.deadline = deadline

    def take(self) -> bool:
        if time.perf_counter() >= self.deadline:
            return False
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def _connection(job: ClientJob, quota: _Quota, result: ClientResult) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    try:
        while quota.take():
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    if writer is None or reader is None:
                        reader, writer = await asyncio.open_connection(HOST, job.port)
                    started = time.perf_counter()
                    writer.write(job.request)
                    answer = await read_response(reader)
                    status, closing = answer.status, answer.closing
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                if status == 200:
                    result.ok += 1
                else:
                    result.errors += 1
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                closing = True
                await asyncio.sleep(ERROR_BACKOFF_S)  # a server that is down is not hammered
            if closing and writer is not None:
                writer.close()
                writer = reader = None
    finally:
        if writer is not None:
            writer.close()


async def _client_main(job: ClientJob) -> ClientResult:
    await asyncio.sleep(max(0.0, job.start_at - time.time()))
    result = ClientResult()
    started = time.perf_counter()
    quota = _Quota(job.requests, started + job.seconds)
    async with asyncio.TaskGroup() as group:
        for _ in range(job.connections):
            group.create_task(_connection(job, quota, result))
    result.seconds = time.perf_counter() - started
    return result


def client_process(job: ClientJob) -> ClientResult:
    """Entry point of one client process (multiprocessing, spawn)."""
    return asyncio.run(_client_main(job))


def _worker_pid(_: int) -> int:
    return os.getpid()


def _ignore_sigint() -> None:
    # The parent handles Ctrl-C and terminates the pool; the workers stay quiet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def split_evenly(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_python(
    target: Target, load: Load, seconds: float, pool: multiprocessing.pool.Pool, processes: int
) -> LoadResult:
    port = int(target.url.rsplit(":", 1)[1])
    request = raw_request(port)
    start_at = time.time() + 0.2
    counts = split_evenly(load.requests, processes) if load.requests is not None else None
    jobs = [
        ClientJob(
            port=port,
            request=request,
            connections=connections,
            seconds=seconds,
            requests=None if counts is None else counts[i],
            start_at=start_at,
        )
        for i, connections in enumerate(split_evenly(load.connections, processes))
    ]
    results = pool.map_async(client_process, jobs).get(timeout=seconds + 60)
    latencies = sorted(value for result in results for value in result.latencies_ms)
    return LoadResult(
        target=target.name,
        client=f"python ({processes} processes)",
        ok=sum(result.ok for result in results),
        errors=sum(result.errors for result in results),
        seconds=max(result.seconds for result in results),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
    )


# ------------------------------------------------------------------------------------ report


TABLE_ROW = "{:<10} {:<22} {:>6} {:>9} {:>8} {:>8} {:>7} {:>11}"


def print_header() -> None:
    print(
        TABLE_ROW.format(
            "target", "client", "round", "req/s", "p50 ms", "p99 ms", "errors", "cpu us/req"
        )
    )


def print_row(figures: Figures, label: str) -> None:
    cpu = "n/a" if figures.cpu_us is None else f"{figures.cpu_us:.0f}"
    print(
        TABLE_ROW.format(
            figures.target,
            figures.client,
            label,
            f"{figures.rps:.1f}",
            f"{figures.p50_ms:.2f}",
            f"{figures.p99_ms:.2f}",
            figures.errors,
            cpu,
        )
    )


def print_verdict(bot: Figures, bare: Figures) -> None:
    """Say whether issue 2's budget holds; a benchmark reports, it does not assert."""
    ratio = bot.rps / bare.rps if bare.rps > 0 else 0.0
    throughput_ok = ratio >= BUDGET_THROUGHPUT_RATIO
    p99_ok = bot.p99_ms < BUDGET_P99_MS
    met = {True: "met", False: "MISSED"}
    print(
        f"[{bot.client}] throughput bot/bare {ratio:.2f} "
        f"(budget >= {BUDGET_THROUGHPUT_RATIO:.2f}: {met[throughput_ok]}); "
        f"bot p99 {bot.p99_ms:.1f} ms (budget < {BUDGET_P99_MS:.0f} ms: {met[p99_ok]})"
    )
    verdict = "holds" if throughput_ok and p99_ok else "MISSED"
    suspect = bot.errors or bare.errors
    print(
        f"[{bot.client}] budget {verdict}" + (" (with errors: figures suspect)" if suspect else "")
    )


# ------------------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ack", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per target (10)")
    parser.add_argument(
        "--requests", type=int, default=None, help="measure this many requests instead of --seconds"
    )
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per target (2)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate bot and bare this often; report medians (1)",
    )
    parser.add_argument("--connections", type=int, default=50, help="concurrent connections (50)")
    parser.add_argument(
        "--client",
        choices=("wrk", "python", "both"),
        default=None,
        help="load generator (default: wrk when it is on PATH, python with --requests)",
    )
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--processes", type=int, default=2, help="Python client processes (2)")
    parser.add_argument(
        "--target", choices=("both", "bot", "bare"), default="both", help="what to load (both)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= MAX_PHASE_SECONDS or not 0 <= args.warmup <= 60:
        parser.error(f"--seconds must be 1..{MAX_PHASE_SECONDS}, --warmup 0..60")
    if args.client is None:
        args.client = "wrk" if shutil.which("wrk") and args.requests is None else "python"
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be positive")
    if args.requests is not None and args.client != "python":
        # wrk sleeps out its whole --duration even when its threads stop early.
        parser.error("--requests needs --client python (wrk only runs for a duration)")
    if args.connections < max(args.wrk_threads, args.processes, 1):
        parser.error("--connections must be at least --wrk-threads and --processes")
    return args


def start_targets(
    stack: contextlib.ExitStack, which: str, slack_api_url: str, workdir: Path
) -> list[Target]:
    common = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "LOG_LEVEL": "WARNING",
    }
    targets: list[Target] = []
    if which in ("both", "bot"):
        redis_url = stack.enter_context(throwaway_redis())
        port = free_port()
        env = child_env(
            **common,
            ENCRYPTION_KEYS=new_key(),
            REDIS_URL=redis_url,
            REDIS_PREFIX="bench:",
            PORT=str(port),
        )
        argv = [sys.executable, "-m", "bot.cli", "serve", "--no-jobs", "--host", HOST]
        targets.append(stack.enter_context(server_process("bot", argv, env, port, workdir)))
    if which in ("both", "bare"):
        port = free_port()
        env = child_env(**common, PORT=str(port))
        argv = [sys.executable, "-m", "bench.bare_bolt", "--host", HOST, "--port", str(port)]
        targets.append(stack.enter_context(server_process("bare Bolt", argv, env, port, workdir)))
    return targets


def measure(
    client: str,
    target: Target,
    load: Load,
    args: argparse.Namespace,
    workdir: Path,
    pool: multiprocessing.pool.Pool | None,
) -> LoadResult:
    """One phase of `load` on `target`, with the server's CPU time over the same interval."""
    seconds = load.deadline_seconds
    cpu_before = process_cpu_seconds(target.pid)
    if client == "wrk":
        result = run_wrk(target, load, seconds, args.wrk_threads, workdir)
    else:
        if pool is None:
            raise RuntimeError("the Python client pool was not started")
        result = run_python(target, load, seconds, pool, args.processes)
    cpu_after = process_cpu_seconds(target.pid)
    target.check_running()
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu_s = cpu_after - cpu_before
    return result


def run(args: argparse.Namespace) -> None:
    clients = ["wrk", "python"] if args.client == "both" else [args.client]
    load = Load(connections=args.connections, seconds=args.seconds, requests=args.requests)
    warmup = Load(connections=args.connections, seconds=args.warmup, requests=None)
    how_much = f"{args.requests} requests" if args.requests else f"{args.seconds} s"
    print(
        f"ack benchmark: signed '/approvals {COMMAND_TEXT}', {args.connections} connections, "
        f"{how_much} per target and round after a {args.warmup} s warm-up, "
        f"{args.rounds} round(s); clients: {', '.join(clients)}"
    )
    results: dict[tuple[str, str], list[LoadResult]] = {}
    with contextlib.ExitStack() as stack:
        try:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ack-")))
            slack = stack.enter_context(FakeSlack().run_in_thread())
            targets = start_targets(stack, args.target, slack.api_url, workdir)
            pool: multiprocessing.pool.Pool | None = None
            if "python" in clients:
                context = multiprocessing.get_context("spawn")
                pool = stack.enter_context(context.Pool(args.processes, initializer=_ignore_sigint))
                # A worker that cannot start is respawned forever; fail fast instead.
                pool.map_async(_worker_pid, range(args.processes)).get(timeout=STARTUP_TIMEOUT_S)
            for target in targets:
                check_ack(target)
            print_header()
            for client in clients:
                for round_no in range(1, args.rounds + 1):
                    # Alternating targets within a round spreads slow spells on a shared machine.
                    for target in targets:
                        if round_no == 1 and args.warmup > 0:
                            measure(client, target, warmup, args, workdir, pool)
                        result = measure(client, target, load, args, workdir, pool)
                        results.setdefault((client, target.name), []).append(result)
                        print_row(Figures.of([result]), str(round_no))
            calls = [call.method for call in slack.calls]
            print(f"fake Slack answered {len(calls)} Web API calls: {sorted(set(calls))}")
        finally:
            # Unwinding must finish: a second Ctrl-C would leave servers running.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print()
    print_header()
    for runs in results.values():
        print_row(Figures.of(runs), "median" if len(runs) > 1 else "1")
    for client in clients:
        bot, bare = results.get((client, "bot")), results.get((client, "bare Bolt"))
        if bot and bare:
            print_verdict(Figures.of(bot), Figures.of(bare))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        run(args)
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted; everything the benchmark started has been stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
