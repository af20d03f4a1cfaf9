"""The approval benchmark: many people approving different requests at once, end to end.

The bot runs as `approvals-bot serve` in its own process, against a throwaway redis-server, the
fake Slack (in this process, answering at once) and the sandbox (`approvals-bot sandbox`, its own
process). Every person is set up the way people are: `/approvals connect` -> the sandbox's
consent page -> callback, `/approvals enroll` -> the code from the DM's setup key -> the Enter
code form. Each approval is then a signed view_submission of the signing form with a fresh code.

With `taskset` and two cores or more, the bot has a core of its own and this process (the load,
the fake Slack) with Redis and the sandbox share the others, so latency reflects the bot.
A bare Bolt app (bench/bare_bolt.py, the anchor of bench.ack) on the bot's core then acks the
very posts the bot answered, as many at once: its CPU per ack is the unit the bot's CPU per
approval is measured in, in the same run and under the same load generator.

Reported for each number of signers at once (`--signers 1 10 25 50`): approvals/s; p50/p99 from
the modal submission leaving here to the submit call being recorded at the sandbox, and to Slack's
answer (the ack); the CPU each process spent per approval (work after the ack included: each
process is read once it has gone quiet) and the bot's as a multiple of a bare Bolt ack; the
Confluence v2 reads made while approving (none for an unchanged change set: its page titles are
read once, when it is requested, and kept with the request); Redis
commands per approval from INFO commandstats (Lua-internal included), and the commands the bot
itself sent per approval from MONITOR on a few extra approvals (an upper bound on round trips).
Exits 1 when an approval failed or a budget is missed.
`--processes N` runs N bot processes on the one store and sends each request to the next (as a
load balancer would; the bot's CPU is then summed over them); `--cluster` puts the store on a
throwaway Redis Cluster of 3 masters and 3 replicas (commands counted over every master).
Not a test: `python -m bench.approve [--signers 1 10 25 50] [--approvals 200] [--processes N]
[--cluster]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from redis import Redis

from bench.ack import child_env, percentile, process_cpu_seconds, server_process, stop_process
from bench.lean_http import LeanClient, post_request
from bot import cli
from bot.wiring import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from emulators.approvalflow import SandboxState, reviews
from emulators.approvalflow.models import Page
from emulators.approvalflow.seed import ALICE, ENG_SPACE
from emulators.slack import FakeSlack
from emulators.slack.signing import command_body, interactive_body, signed_headers
from services.secretbox import new_key
from testkit.browser import consent_form
from testkit.redis_cluster import throwaway_cluster
from testkit.redis_server import free_port, throwaway_redis
from testkit.rfc6238 import code_for_step

T = TypeVar("T")
HOST = "127.0.0.1"
SIGNING_SECRET = "bench-signing-secret"
TEAM = "T0BENCH"
CHANNEL = "C0BENCH"
REQUESTER = "U0ALICE"
BUDGET_CPU_RATIO = 12.0  # the bot's CPU per approval, in bare Bolt acks
BUDGET_SUBMIT_P99_MS = 100.0  # modal submission -> submit call, with the bot on its own core
BUDGET_SUBMIT_SIGNERS = 25  # ... up to this many signers at once
BUDGET_ACK_P99_MS = 1000.0  # the modal's ack, at any number of signers
BUDGET_ROUND_TRIPS = 10
MONITORED_APPROVALS = 5
WARMUP_APPROVALS = 10
BARE_MIN_ACKS = 2000  # enough for /proc's 10 ms CPU ticks to resolve a fraction of a ms
SETTLE_POLL_S = 0.25
SETTLE_TIMEOUT_S = 5.0
DRIVER_KEEPALIVE_S = 2.0
DRIVER_TIMEOUT_S = 60.0
SETUP_CONCURRENCY = 8  # setting people up is not what is measured; keep it gentle
FORM = "application/x-www-form-urlencoded"
# The bot under cProfile, switched on and off by signals, so only the measured phase counts.
PROFILED = """
import cProfile, signal, sys
from bot.cli import main
profile, path = cProfile.Profile(), sys.argv[1]
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, lambda *_: (profile.disable(), profile.dump_stats(path)))
sys.exit(main(sys.argv[2:]))
"""
_ID = re.compile(r"AR-[2346790ACDEFGHJKMNPQRTUVWXYZ]{4}")
_KEY = re.compile(r"`([A-Z2-7 ]{16,})`")


@dataclass
class Signer:
    slack_id: str
    email: str
    account_id: str
    change_set_id: str
    secret: str = ""
    activated_step: int = 0
    request_id: str = ""
    view: dict[str, Any] = field(default_factory=dict)
    sent_at: float = 0.0
    answered_at: float = 0.0
    answer: dict[str, Any] = field(default_factory=dict)
    body: str = ""  # the signed post, replayed to bare Bolt
    headers: dict[str, str] = field(default_factory=dict)

    def code(self) -> str:
        # Each time step signs once per person: the step after the activation's, or now.
        step = max(int(time.time()) // 30, self.activated_step + 1)
        return code_for_step(self.secret, step)


# ------------------------------------------------------------------------------- the world


def seed_sandbox(data_dir: Path, count: int) -> list[Signer]:
    """People and one single-page change set each, saved where the bot's sandbox loads it."""
    state = SandboxState(
        persist_path=data_dir / "sandbox.json", clients={SANDBOX_CLIENT_ID: SANDBOX_CLIENT_SECRET}
    )
    now = datetime.now(UTC) - timedelta(hours=1)
    signers = []
    for i in range(count):
        page_id = str(900_000 + i)
        state.world.pages[page_id] = Page(id=page_id, space_id=ENG_SPACE, title=f"Bench {i}")
        change_set = reviews.create_change_set(
            state.world,
            ENG_SPACE,
            {"title": f"BENCH-{i}", "pageRefs": [{"pageId": page_id}]},
            account_id=ALICE,
            now=now,
            change_set_id=f"cs-bench{i}",
        )
        user = state.add_user(f"Signer {i}", f"signer{i}@example.com")
        signers.append(Signer(f"U0SIGN{i:04d}", user.email, user.account_id, change_set.id))
    state.flush()  # the sandbox process reads it next
    return signers


class Bot:
    """The running bot as Slack and a browser reach it."""

    def __init__(self, urls: list[str], slack: FakeSlack, http: httpx.AsyncClient) -> None:
        # Several bot processes: each request goes to the next, as a load balancer spreads them.
        # The measured posts go out on lean connections: httpx spends several times a post's
        # own cost per request, on the core the bot's partners (Slack, Redis, sandbox) run on.
        self._lean = [lean_client(url) for url in urls]
        self._servers = itertools.cycle(self._lean)
        self.slack = slack
        self.http = http

    @property
    def url(self) -> str:
        """The process the next request goes to."""
        return next(self._servers).url

    def server(self) -> LeanClient:
        """The process the next measured post goes to."""
        return next(self._servers)

    def close(self) -> None:
        for server in self._lean:
            server.close()

    async def post(self, body: str) -> httpx.Response:
        headers = signed_headers(SIGNING_SECRET, body, content_type=FORM)
        response = await self.http.post(f"{self.url}/slack/events", content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"the bot answered {response.status_code}: {response.text[:200]}")
        return response

    async def command(self, text: str, user: str) -> dict[str, Any]:
        """A slash command; its answer (the ack's body or the response_url's), as a dict."""
        url = self.slack.new_response_url(channel=CHANNEL, user=user)
        body = command_body(
            text,
            user_id=user,
            channel_id=CHANNEL,
            team_id=TEAM,
            response_url=url,
            trigger_id=self.slack.new_trigger_id(user),
        )
        response = await self.post(body)
        if response.text:
            return dict(response.json())
        for _ in range(1000):
            posts = [p for p in self.slack.response_posts if p.url == url]
            if posts:
                return posts[0].payload
            await asyncio.sleep(0.01)
        raise RuntimeError(f"no answer to /approvals {text}")

    async def interact(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = await self.post(interactive_body(payload))
        return dict(response.json()) if response.text else {}


async def link(bot: Bot, browser: httpx.AsyncClient, signer: Signer | None, user: str) -> None:
    """connect -> consent (Allow) -> callback, as a person would with a browser."""
    answer = await bot.command("connect", user)
    [url] = [e["url"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    page = await browser.get(url)
    action, fields = consent_form(page.text)
    fields["account_id"] = signer.account_id if signer else ALICE
    done = await browser.post(page.url.join(action), data={**fields, "decision": "allow"})
    if done.url.params.get("result") != "linked":
        raise RuntimeError(f"linking {user} failed: {done.url}")


async def enrol(bot: Bot, signer: Signer) -> None:
    """enroll -> the setup key from the DM -> the Enter code form with the current code."""
    await bot.command("enroll", signer.slack_id)
    for _ in range(1000):
        dms = bot.slack.dm_messages(signer.slack_id)
        found = [m for m in dms if m.blocks and "Enter code" in json.dumps(m.blocks)]
        if found:
            break
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError(f"no enrolment DM for {signer.slack_id}")
    blocks = found[-1].blocks or []
    key = next(m.group(1) for b in blocks if (m := _KEY.search(json.dumps(b))))
    [enrolment] = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    signer.secret = key.replace(" ", "")
    signer.activated_step = int(time.time()) // 30
    activation_code = code_for_step(signer.secret, signer.activated_step)
    answer = await bot.interact(
        view_submission(
            signer.slack_id,
            {"id": "V0ENROL", "type": "modal", "callback_id": "token_activate"},
            enrolment,
            {"code": {"code": {"type": "plain_text_input", "value": activation_code}}},
        )
    )
    if answer.get("response_action") != "update":
        raise RuntimeError(f"enrolment of {signer.slack_id} refused: {answer}")


def view_submission(
    user: str, view: dict[str, Any], metadata: str, values: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0BENCH",
        "trigger_id": "1.2.3",
        "view": {**view, "private_metadata": metadata, "state": {"values": values}},
    }


async def request_and_open(bot: Bot, signer: Signer) -> None:
    """The requester posts a request naming the signer, who presses Approve."""
    answer = await bot.command(f"request {signer.change_set_id} <@{signer.slack_id}>", REQUESTER)
    found = _ID.search(str(answer.get("text")))
    if not found:
        raise RuntimeError(f"no request posted: {answer.get('text')}")
    signer.request_id = found.group(0)
    await bot.interact(
        {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": signer.slack_id, "team_id": TEAM},
            "api_app_id": "A0BENCH",
            "trigger_id": bot.slack.new_trigger_id(signer.slack_id),
            "container": {"type": "message", "channel_id": CHANNEL},
            "actions": [
                {"type": "button", "action_id": "request_approve", "value": signer.request_id}
            ],
        }
    )
    await bot.slack.wait_for(
        "views.update",
        count=1,
        timeout=30,
        where=lambda c: (
            c.args.get("view", {}).get("private_metadata", "").find(signer.request_id) >= 0
        ),
    )
    [view] = bot.slack.view_stack(signer.slack_id)
    signer.view = view.view


async def approve(bot: Bot, signer: Signer) -> None:
    """The measured act: the signing form submitted with a fresh code."""
    payload = view_submission(
        signer.slack_id,
        signer.view,
        signer.view["private_metadata"],
        {"code": {"code": {"type": "plain_text_input", "value": signer.code()}}},
    )
    signer.body = interactive_body(payload)
    signer.headers = signed_headers(SIGNING_SECRET, signer.body, content_type=FORM)
    server = bot.server()
    request = post_request(f"{server.url}/slack/events", signer.body, signer.headers)
    connection = await server.connection()
    signer.sent_at = time.time()
    answer = await server.exchange(connection, request)
    signer.answered_at = time.time()
    signer.answer = json.loads(answer.body) if answer.body else {"status": answer.status}


def lean_client(url: str) -> LeanClient:
    return LeanClient(url, timeout=DRIVER_TIMEOUT_S, keepalive_s=DRIVER_KEEPALIVE_S)


async def gather_limited(limit: int, jobs: list[Any]) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(job) for job in jobs))


async def entered(stack: contextlib.AsyncExitStack, manager: AbstractContextManager[T]) -> T:
    """Enter a blocking context manager (a process started, waited for, stopped) in a thread, and
    have `stack` exit it in one: this loop serves the fake Slack, which a bot starting or draining
    may call meanwhile."""
    value = await asyncio.to_thread(manager.__enter__)

    async def leave(*exc: Any) -> bool | None:
        return await asyncio.to_thread(manager.__exit__, *exc)

    stack.push_async_exit(leave)
    return value


@contextlib.contextmanager
def sandbox_process(data: Path, port: int, log_dir: Path) -> Iterator[tuple[str, int]]:
    """The sandbox in its own process (`approvals-bot sandbox`), so the fake ApprovalFlow answers
    at once instead of taking its CPU from the bot it is measuring."""
    argv = [sys.executable, "-m", "bot.cli", "sandbox", "--host", HOST, "--port", str(port)]
    with (log_dir / "sandbox.log").open("wb") as log:
        proc = subprocess.Popen(
            [*argv, "--data", str(data)],
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start (see {log_dir}/sandbox.log)")
            try:
                if httpx.get(f"{url}/_sandbox/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url, proc.pid
    finally:
        stop_process(proc)


# ------------------------------------------------------------------------------- Redis


def command_stats(nodes: list[Redis]) -> Counter[str]:
    """Commands run so far, summed over the store's masters (one, or each of a cluster's)."""
    total: Counter[str] = Counter()
    for node in nodes:
        info: dict[str, Any] = node.info("commandstats")
        total.update({name: int(stats["calls"]) for name, stats in info.items()})
    return total


@contextlib.contextmanager
def throwaway_store(cluster: bool) -> Iterator[tuple[str, list[str]]]:
    """A fresh store: one redis-server, or a 3-master/3-replica cluster. Yields the bot's
    REDIS_URL and a plain URL for each master (for INFO and MONITOR)."""
    if not cluster:
        with throwaway_redis() as url:
            yield url, [url]
        return
    with throwaway_cluster() as nodes:
        yield nodes.url, [f"redis://{HOST}:{port}" for port in nodes.masters()]


@contextlib.contextmanager
def monitored(redis_url: str) -> Iterator[list[str]]:
    """Every command the server runs meanwhile, as MONITOR prints it."""
    parts = urlsplit(redis_url)
    conn = socket.create_connection((parts.hostname or HOST, parts.port or 6379))
    conn.sendall(b"MONITOR\r\n")
    lines: list[str] = []
    stop = threading.Event()

    def read() -> None:
        buffer = b""
        conn.settimeout(0.1)
        while not stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            *done, buffer = buffer.split(b"\r\n")
            lines.extend(line.decode(errors="replace") for line in done)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.2)
    try:
        yield lines
    finally:
        time.sleep(0.3)
        stop.set()
        reader.join(2)
        conn.close()


# ------------------------------------------------------------------------------- cores and CPU


@dataclass(frozen=True)
class Cores:
    """Where the bot runs: one core of its own, or (unpinned) wherever the kernel puts it."""

    bot: int | None
    others: tuple[int, ...] = ()

    def prefix(self) -> list[str]:
        """The argv prefix that puts a server on the bot's core."""
        return [] if self.bot is None else ["taskset", "--cpu-list", str(self.bot)]

    def describe(self) -> str:
        if self.bot is None:
            return "not pinned (no taskset, one core, or --no-pin): latency includes the others"
        others = ",".join(map(str, self.others))
        return f"bot and bare Bolt on core {self.bot}; Redis, sandbox, fake Slack, load on {others}"


def pin_cores(enabled: bool) -> Cores:
    """Keep this process, and so everything it starts later (Redis, the sandbox, the fake
    Slack's thread), off the bot's core. Must run before any of them starts."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or shutil.which("taskset") is None or len(cores) < 2:
        return Cores(None)
    bot, *others = cores
    os.sched_setaffinity(0, others)
    return Cores(bot, tuple(others))


def start_py_spy(path: str | None, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the bot until `stop_py_spy` (it needs ptrace rights: root, or
    kernel.yama.ptrace_scope 0)."""
    if path is None:
        return None
    argv = ["py-spy", "record", "--pid", str(pid), "--rate", "250", "--format", "raw"]
    proc = subprocess.Popen(
        [*argv, "--nonblocking", "--output", path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)  # attached before the first approval
    return proc


def stop_py_spy(proc: subprocess.Popen[bytes], path: str) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if proc.returncode not in (0, -signal.SIGINT) or not Path(path).exists():
        print(f"py-spy failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    else:
        print(f"py-spy samples of the bot: {path}")


async def settled_cpu_seconds(pid: int) -> float | None:
    """A process's CPU once it has gone quiet: work after the ack belongs to the approval."""
    last = process_cpu_seconds(pid)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while last is not None and time.monotonic() < deadline:
        await asyncio.sleep(SETTLE_POLL_S)
        now = process_cpu_seconds(pid)
        if now == last:
            break
        last = now
    return last


# ------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Figures:
    """One concurrency level: the bot's approvals, then bare Bolt's acks of the same posts."""

    signers: int
    approvals: int
    errors: int
    seconds: float
    to_submit_ms: list[float]
    to_ack_ms: list[float]
    cpu_ms: dict[str, float]  # CPU per approval, by process
    bare_ack_cpu_ms: float | None  # bare Bolt's CPU per ack of the same posts
    bare_errors: int
    confluence_calls: int  # Confluence v2 reads (pages, spaces) while approving

    @property
    def rate(self) -> float:
        return self.approvals / self.seconds if self.seconds else 0.0

    @property
    def bot_cpu_ms(self) -> float | None:
        """The bot's CPU per approval, over every bot process ("bot", "bot 2", ...)."""
        spent = [ms for name, ms in self.cpu_ms.items() if name.split(" ")[0] == "bot"]
        return sum(spent) if spent else None

    @property
    def ratio(self) -> float | None:
        """The bot's CPU per approval in bare Bolt acks."""
        bot = self.bot_cpu_ms
        if bot is None or not self.bare_ack_cpu_ms:
            return None
        return bot / self.bare_ack_cpu_ms

    def problems(self) -> list[str]:
        """The budgets this level misses (empty: all met)."""
        missed = []
        if self.errors or self.bare_errors:
            missed.append(f"{self.errors} approvals and {self.bare_errors} bare acks failed")
        if self.ratio is not None and self.ratio > BUDGET_CPU_RATIO:
            missed.append(f"bot CPU {self.ratio:.1f}x a bare Bolt ack (budget {BUDGET_CPU_RATIO})")
        p99 = percentile(self.to_submit_ms, 99)
        if self.signers <= BUDGET_SUBMIT_SIGNERS and p99 >= BUDGET_SUBMIT_P99_MS:
            missed.append(f"submit p99 {p99:.0f} ms (budget < {BUDGET_SUBMIT_P99_MS:.0f} ms)")
        ack99 = percentile(self.to_ack_ms, 99)
        if ack99 >= BUDGET_ACK_P99_MS:
            missed.append(f"ack p99 {ack99:.0f} ms (budget < {BUDGET_ACK_P99_MS:.0f} ms)")
        return missed


async def approvals_at(bot: Bot, signers: list[Signer], concurrency: int) -> tuple[float, float]:
    """The signers approve, `concurrency` at once: when they started, and in how many seconds."""
    started = time.time()
    await gather_limited(concurrency, [approve(bot, s) for s in signers])
    return started, time.time() - started


async def outcomes(
    bot: Bot, signers: list[Signer], sandbox: str, started: float
) -> tuple[int, list[float], list[float], int]:
    """What the approvals since `started` came to: errors, to-submit and to-ack (ms), and the
    Confluence reads made meanwhile, as the sandbox recorded them."""
    calls = await bot.http.get(f"{sandbox}/_sandbox/calls?endpoint=submit_change_set")
    submitted: dict[str, dict[str, Any]] = {}
    for call in calls.json():
        submitted.setdefault(str((call.get("body") or {}).get("changeSetId")), call)
    to_submit, errors = [], 0
    for signer in signers:
        call = submitted.get(signer.change_set_id)
        # Signed (or, past the ack budget, "Submitting…" with the outcome following).
        shown = json.dumps(signer.answer)
        ok = "Signed and submitted" in shown or "submitting to ApprovalFlow" in shown
        if call is None or not ok or call.get("account_id") != signer.account_id:
            errors += 1
            continue
        at = datetime.fromisoformat(str(call["at"])).timestamp()
        to_submit.append((at - signer.sent_at) * 1000)
    to_ack = [(s.answered_at - s.sent_at) * 1000 for s in signers]
    reads = 0
    for endpoint in ("confluence_pages", "confluence_spaces"):
        answer = await bot.http.get(f"{sandbox}/_sandbox/calls?endpoint={endpoint}")
        reads += sum(
            1
            for call in answer.json()
            if datetime.fromisoformat(str(call["at"])).timestamp() >= started
        )
    return errors, sorted(to_submit), sorted(to_ack), reads


async def bare_acks(
    bare: LeanClient, posts: list[tuple[str, dict[str, str]]], count: int, concurrency: int
) -> int:
    """Bare Bolt acks `count` of the very posts the bot answered, as many at once: errors."""
    failed = 0

    async def one(body: str, headers: dict[str, str]) -> None:
        nonlocal failed
        answer = await bare.post("/slack/events", body, headers)
        failed += answer.status != 200

    jobs = [one(*posts[i % len(posts)]) for i in range(count)]
    await gather_limited(concurrency, jobs)
    return failed


async def measure_level(
    bot: Bot,
    bare: LeanClient,
    signers: list[Signer],
    concurrency: int,
    sandbox: str,
    pids: dict[str, int],
    bare_pid: int,
) -> Figures:
    """The bot's approvals with every process's CPU, then bare Bolt's acks of the same posts."""
    cpu_before = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
    started, seconds = await approvals_at(bot, signers, concurrency)
    cpu: dict[str, float] = {}
    for name, pid in pids.items():
        start, end = cpu_before[name], await settled_cpu_seconds(pid)
        if start is not None and end is not None:
            cpu[name] = (end - start) * 1000 / len(signers)
    # Read once every process went quiet: listing the sandbox's records (a thousand calls, as
    # JSON) is the benchmark's work, not an approval's.
    errors, to_submit, to_ack, reads = await outcomes(bot, signers, sandbox, started)
    posts = [(s.body, s.headers) for s in signers]
    count = max(len(posts), BARE_MIN_ACKS)
    bare_before = process_cpu_seconds(bare_pid)
    bare_errors = await bare_acks(bare, posts, count, concurrency)
    bare_after = await settled_cpu_seconds(bare_pid)
    bare_cpu = None
    if bare_before is not None and bare_after is not None:
        bare_cpu = (bare_after - bare_before) * 1000 / count
    return Figures(
        concurrency,
        len(signers),
        errors,
        seconds,
        to_submit,
        to_ack,
        cpu,
        bare_cpu,
        bare_errors,
        reads,
    )


async def run(args: argparse.Namespace) -> int:
    # Several bot processes would share the one reserved core: reserve none then.
    cores = pin_cores(not args.no_pin and args.processes == 1)
    levels: list[int] = args.signers
    total = WARMUP_APPROVALS + args.approvals * len(levels) + MONITORED_APPROVALS
    async with contextlib.AsyncExitStack() as stack:
        redis_url, master_urls = stack.enter_context(throwaway_store(args.cluster))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="approvals-bench-"))
        # The fake Slack serves on this process's own loop: in a thread it took turns with the
        # load for the one interpreter lock, a switch every 5 ms holding one or the other up.
        slack = await stack.enter_async_context(FakeSlack())
        workdir = Path(tmp)
        signers = seed_sandbox(workdir / "sandbox", total)
        for signer in signers:
            slack.add_user(signer.slack_id, real_name=signer.email, email=signer.email)
        slack.add_user(REQUESTER, real_name="Alice Anders", email="alice@example.com")
        port = free_port()
        sandbox = f"http://{HOST}:{port}/sandbox"
        atlassian: dict[str, str] = {}
        sandbox_pid: int | None = None
        if not args.in_process_sandbox:
            sandbox, sandbox_pid = await entered(
                stack, sandbox_process(workdir / "sandbox" / "sandbox.json", free_port(), workdir)
            )
            atlassian = {"ATLASSIAN_AUTH_URL": sandbox, "ATLASSIAN_API_URL": sandbox}
        slack_env = {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "LOG_LEVEL": "WARNING",
        }
        env = child_env(
            **atlassian,
            **slack_env,
            ENCRYPTION_KEYS=new_key(),
            REDIS_URL=redis_url,
            REDIS_PREFIX="bench:",
            # The bot's own (mounted) sandbox loads the seeded world unless one runs apart.
            DATA_DIR=str(workdir / ("sandbox" if args.in_process_sandbox else "bot")),
            PORT=str(port),
        )
        argv = [*cores.prefix(), sys.executable, "-m", "bot.cli", "serve", "--no-jobs"]
        argv += ["--host", HOST]
        if args.profile:
            argv[argv.index("-m") : argv.index("-m") + 2] = ["-c", PROFILED, args.profile]
        bare_port = free_port()
        bare_argv = [*cores.prefix(), sys.executable, "-m", "bench.bare_bolt"]
        bare_argv += ["--host", HOST, "--port", str(bare_port)]
        bare_env = child_env(**slack_env, PORT=str(bare_port))
        target = await entered(stack, server_process("bot", argv, env, port, workdir))
        bare = await entered(
            stack, server_process("bare Bolt", bare_argv, bare_env, bare_port, workdir)
        )
        targets = [target]
        for n in range(2, args.processes + 1):
            # The same bot again: its own port and data directory, everything else shared.
            more = {**env, "PORT": str(free_port()), "DATA_DIR": str(workdir / f"bot{n}")}
            targets.append(
                await entered(
                    stack, server_process(f"bot {n}", argv, more, int(more["PORT"]), workdir)
                )
            )
        # Idle connections go before uvicorn's 5 s keep-alive does: one reused just as the
        # server closes it would fail a post between two levels.
        limits = httpx.Limits(max_connections=max(levels) + 20, keepalive_expiry=DRIVER_KEEPALIVE_S)
        async with (
            httpx.AsyncClient(timeout=60, limits=limits) as http,
            httpx.AsyncClient(timeout=30, follow_redirects=True) as browser,
        ):
            bot = Bot([t.url for t in targets], slack, http)
            bare_bolt = lean_client(bare.url)
            print(f"{cores.describe()}")
            print(f"setting up {total} signers (link, enrol, request, open the form)…")
            await link(bot, browser, None, REQUESTER)
            await gather_limited(
                SETUP_CONCURRENCY, [link(bot, browser, s, s.slack_id) for s in signers]
            )
            await gather_limited(SETUP_CONCURRENCY, [enrol(bot, s) for s in signers])
            await gather_limited(SETUP_CONCURRENCY, [request_and_open(bot, s) for s in signers])

            masters = [Redis.from_url(url) for url in master_urls]
            warmup, rest = signers[:WARMUP_APPROVALS], signers[WARMUP_APPROVALS:]
            await gather_limited(max(levels), [approve(bot, s) for s in warmup])
            await bare_acks(bare_bolt, [(s.body, s.headers) for s in warmup], 200, 10)
            # What setting up made (people, the fake Slack's records) lives to the end: kept out of
            # the collector's passes, which would walk it all again during the measured approvals.
            gc.freeze()
            pids = {t.name: t.pid for t in targets}
            for n, node in enumerate(masters, start=1):
                name = f"redis master {n}" if args.cluster else "redis"
                pids[name] = int(node.info("server")["process_id"])
            pids["bench + fake Slack"] = os.getpid()
            if sandbox_pid is not None:
                pids["sandbox"] = sandbox_pid
            before = command_stats(masters)
            if args.profile:
                target.proc.send_signal(signal.SIGUSR1)
                await asyncio.sleep(0.2)
            spy = start_py_spy(args.py_spy, target.pid)
            results = []
            for i, level in enumerate(levels):
                group = rest[i * args.approvals : (i + 1) * args.approvals]
                results.append(
                    await measure_level(bot, bare_bolt, group, level, sandbox, pids, bare.pid)
                )
            if args.profile:
                target.proc.send_signal(signal.SIGUSR2)
            if spy is not None:
                stop_py_spy(spy, args.py_spy)
            delta = command_stats(masters) - before
            delta.pop("cmdstat_info", None)
            with contextlib.ExitStack() as watching:
                seen = [watching.enter_context(monitored(url)) for url in master_urls]
                for signer in rest[len(levels) * args.approvals :]:
                    await approve(bot, signer)
            lines = [line for node_lines in seen for line in node_lines]
            sent = [ln for ln in lines if re.search(r"\[\d+ [\d.:]+\]", ln)]
            inside = [ln for ln in lines if "lua]" in ln]
            for node in masters:
                node.close()
            for running in targets:
                running.check_running()
            bare.check_running()
            bot.close()
            bare_bolt.close()
    measured = args.approvals * len(levels)
    report(
        results, delta, measured, len(sent) / MONITORED_APPROVALS, len(inside) / MONITORED_APPROVALS
    )
    return 0 if not any(f.problems() for f in results) else 1


TABLE = "{:>7} {:>10} {:>6} {:>17} {:>17} {:>10} {:>10} {:>6}"


def report(
    results: list[Figures],
    delta: Counter[str],
    measured: int,
    sent_per_approval: float,
    in_scripts_per_approval: float,
) -> None:
    print()
    print(
        TABLE.format(
            "signers",
            "approvals",
            "errors",
            "submit p50/p99",
            "ack p50/p99",
            "bot CPU",
            "bare ack",
            "ratio",
        )
    )
    print(TABLE.format("at once", "per s", "", "ms", "ms", "ms/appr.", "ms CPU", ""))
    for f in results:
        submit, ack = f.to_submit_ms, f.to_ack_ms
        bot_cpu = f.bot_cpu_ms
        print(
            TABLE.format(
                f.signers,
                f"{f.rate:.1f}",
                f.errors + f.bare_errors,
                f"{percentile(submit, 50):.1f} / {percentile(submit, 99):.1f}",
                f"{percentile(ack, 50):.1f} / {percentile(ack, 99):.1f}",
                "n/a" if bot_cpu is None else f"{bot_cpu:.2f}",
                "n/a" if f.bare_ack_cpu_ms is None else f"{f.bare_ack_cpu_ms:.3f}",
                "n/a" if f.ratio is None else f"{f.ratio:.1f}",
            )
        )
    print()
    for f in results:
        cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in f.cpu_ms.items())
        print(f"CPU per approval at {f.signers} at once (ms): {cpu}")
    per = sum(delta.values()) / measured
    top = ", ".join(
        f"{name.removeprefix('cmdstat_')} {calls / measured:.1f}"
        for name, calls in delta.most_common(8)
    )
    confluence = sum(f.confluence_calls for f in results) / measured
    print(
        "Confluence calls per approval (titles and versions are kept with each request): "
        f"{confluence:.2f}"
    )
    print(f"Redis commands per approval (INFO commandstats, Lua-internal included): {per:.1f}")
    print(f"  {top}")
    print(
        f"Redis commands the bot sent per approval (MONITOR, {MONITORED_APPROVALS} approvals): "
        f"{sent_per_approval:.1f} (+{in_scripts_per_approval:.1f} run inside scripts); "
        f"budget at most {BUDGET_ROUND_TRIPS} round trips"
    )
    print(
        f"budgets: bot CPU per approval <= {BUDGET_CPU_RATIO}x a bare Bolt ack; submit p99 < "
        f"{BUDGET_SUBMIT_P99_MS:.0f} ms up to {BUDGET_SUBMIT_SIGNERS} signers; ack p99 < "
        f"{BUDGET_ACK_P99_MS:.0f} ms"
    )
    for f in results:
        missed = f.problems()
        print(
            f"  {f.signers} at once: " + ("met" if not missed else "MISSED: " + "; ".join(missed))
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--signers",
        type=int,
        nargs="+",
        default=[50],
        metavar="N",
        help="approvals in flight at once; several values measure each in turn (50)",
    )
    parser.add_argument(
        "--approvals", type=int, default=200, help="approvals measured at each level (200)"
    )
    parser.add_argument(
        "--in-process-sandbox",
        action="store_true",
        help="use the sandbox mounted in the bot (it then shares the bot's CPU)",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not give the bot a core of its own"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="profile the bot (cProfile) during the measured approvals"
    )
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="sample the bot with py-spy (pip install py-spy) during the measured approvals; "
        "FILE gets collapsed stacks (flamegraph.pl, speedscope)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="bot processes sharing the store; requests go to each in turn (1)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="run on a throwaway Redis Cluster (3 masters, 3 replicas) instead of one redis-server",
    )
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.processes > 1 and (args.in_process_sandbox or args.profile or args.py_spy):
        parser.error(
            "--processes above 1 needs the sandbox in its own process and profiles no one bot"
        )
    if args.py_spy and shutil.which("py-spy") is None:
        parser.error("--py-spy needs py-spy on PATH: pip install py-spy")
    if min(args.signers) < 1 or args.approvals < 1:
        parser.error("--signers and --approvals must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        args.profile = str(Path(args.profile).resolve())  # the bot runs in another directory
    if args.py_spy:
        args.py_spy = str(Path(args.py_spy).resolve())
    try:
        # On uvloop, as the bot runs: the load and the fake Slack cost a quarter less a call.
        return cli.run(run(args))
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
