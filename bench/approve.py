"""The approval benchmark: many people approving different requests at once, end to end.

The bot runs as `approvals-bot serve` in its own process, against a throwaway redis-server, the
fake Slack (in this process, answering at once) and its built-in sandbox. Every person is set up
the way people are: `/approvals connect` -> the sandbox's consent page -> callback, `/approvals
enroll` -> the code from the DM's setup key -> the Enter code form. Each approval is then a
signed view_submission of the signing form with a fresh code.

Reported: approvals/s; p50/p99 from the modal submission leaving here to the submit call being
recorded at the sandbox (the budget: p99 under 100 ms at 50 concurrent signers) and to Slack's
answer (the ack); the Confluence v2 reads made while approving (none for an unchanged change set:
its page titles are read once, when it is requested, and kept with the request); Redis
commands per approval from INFO commandstats (commands run inside Lua
scripts count too), and the commands the bot itself sent per approval, from MONITOR on a few
extra approvals (each pipeline or script call counted once per command: an upper bound on round
trips); and the CPU each process spent per measured approval (the bot, the sandbox, Redis, and
this process with the fake Slack), which shows where the machine's cores went.
`--processes N` runs N bot processes on the one store and sends each request to the next (as a
load balancer would); `--cluster` puts the store on a throwaway Redis Cluster of 3 masters and
3 replicas (commands counted over every master).
Not a test: `python -m bench.approve [--signers 50] [--approvals 200] [--processes N] [--cluster]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from redis import Redis

from bench.ack import child_env, percentile, process_cpu_seconds, server_process, stop_process
from bot.wiring import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from emulators.approvalflow import SandboxState, reviews
from emulators.approvalflow.models import Page
from emulators.approvalflow.seed import ALICE, ENG_SPACE
from emulators.slack import FakeSlack
from emulators.slack.signing import command_body, interactive_body, signed_headers
from services.secretbox import new_key
from tests.redis_cluster import throwaway_cluster
from tests.redis_server import free_port, throwaway_redis
from tests.rfc6238 import code_for_step
from tests.scenario.test_linking import consent_form

HOST = "127.0.0.1"
SIGNING_SECRET = "bench-signing-secret"
TEAM = "T0BENCH"
CHANNEL = "C0BENCH"
REQUESTER = "U0ALICE"
BUDGET_P99_MS = 100.0
BUDGET_ROUND_TRIPS = 10
MONITORED_APPROVALS = 5
DRIVER_POOLS = 10
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

    def __init__(
        self,
        urls: list[str],
        slack: FakeSlack,
        http: httpx.AsyncClient,
        pools: list[httpx.AsyncClient],
    ) -> None:
        # Several bot processes: each request goes to the next, as a load balancer spreads them.
        self._urls = itertools.cycle(urls)
        self.slack = slack
        self.http = http
        # httpcore scans its whole pool on every request: the measured posts share several
        # small pools, so this process's own overhead stays out of the figures.
        self.pools = itertools.cycle(pools)

    @property
    def url(self) -> str:
        """The process the next request goes to."""
        return next(self._urls)

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
    body = interactive_body(payload)
    headers = signed_headers(SIGNING_SECRET, body, content_type=FORM)
    http = next(bot.pools)
    signer.sent_at = time.time()
    response = await http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    signer.answered_at = time.time()
    signer.answer = response.json() if response.text else {"status": response.status_code}


async def gather_limited(limit: int, jobs: list[Any]) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(job) for job in jobs))


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


# ------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Figures:
    approvals: int
    errors: int
    seconds: float
    to_submit_ms: list[float]
    to_ack_ms: list[float]
    confluence_calls: int = 0  # Confluence v2 reads (pages, spaces) while approving

    @property
    def rate(self) -> float:
        return self.approvals / self.seconds if self.seconds else 0.0


async def measure(bot: Bot, signers: list[Signer], concurrency: int, sandbox: str) -> Figures:
    started = time.time()
    await gather_limited(concurrency, [approve(bot, s) for s in signers])
    seconds = time.time() - started
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
    return Figures(len(signers), errors, seconds, sorted(to_submit), sorted(to_ack), reads)


async def run(args: argparse.Namespace) -> int:
    total = args.approvals + MONITORED_APPROVALS
    with (
        throwaway_store(args.cluster) as (redis_url, master_urls),
        FakeSlack().run_in_thread() as slack,
        tempfile.TemporaryDirectory(prefix="approvals-bench-") as tmp,
    ):
        workdir = Path(tmp)
        signers = seed_sandbox(workdir / "sandbox", total)
        for signer in signers:
            slack.add_user(signer.slack_id, real_name=signer.email, email=signer.email)
        slack.add_user(REQUESTER, real_name="Alice Anders", email="alice@example.com")
        port = free_port()
        stack = contextlib.ExitStack()
        sandbox = f"http://{HOST}:{port}/sandbox"
        atlassian: dict[str, str] = {}
        sandbox_pid: int | None = None
        if not args.in_process_sandbox:
            sandbox, sandbox_pid = stack.enter_context(
                sandbox_process(workdir / "sandbox" / "sandbox.json", free_port(), workdir)
            )
            atlassian = {"ATLASSIAN_AUTH_URL": sandbox, "ATLASSIAN_API_URL": sandbox}
        env = child_env(
            **atlassian,
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            ENCRYPTION_KEYS=new_key(),
            REDIS_URL=redis_url,
            REDIS_PREFIX="bench:",
            # The bot's own (mounted) sandbox loads the seeded world unless one runs apart.
            DATA_DIR=str(workdir / ("sandbox" if args.in_process_sandbox else "bot")),
            PORT=str(port),
            LOG_LEVEL="WARNING",
        )
        argv = [sys.executable, "-m", "bot.cli", "serve", "--no-jobs", "--host", HOST]
        if args.profile:
            argv[1:3] = ["-c", PROFILED, args.profile]
        with stack:
            targets = [stack.enter_context(server_process("bot", argv, env, port, workdir))]
            for n in range(2, args.processes + 1):
                # The same bot again: its own port and data directory, everything else shared.
                more = {**env, "PORT": str(free_port()), "DATA_DIR": str(workdir / f"bot{n}")}
                targets.append(
                    stack.enter_context(
                        server_process(f"bot {n}", argv, more, int(more["PORT"]), workdir)
                    )
                )
            target = targets[0]
            limits = httpx.Limits(max_connections=args.signers + 20)
            pool_limits = httpx.Limits(max_connections=args.signers)  # never queue a post here
            async with (
                httpx.AsyncClient(timeout=60, limits=limits) as http,
                httpx.AsyncClient(timeout=30, follow_redirects=True) as browser,
                contextlib.AsyncExitStack() as clients,
            ):
                pools = [
                    await clients.enter_async_context(
                        httpx.AsyncClient(timeout=60, limits=pool_limits)
                    )
                    for _ in range(DRIVER_POOLS)
                ]
                bot = Bot([t.url for t in targets], slack, http, pools)
                print(f"setting up {total} signers (link, enrol, request, open the form)…")
                await link(bot, browser, None, REQUESTER)
                await gather_limited(
                    SETUP_CONCURRENCY, [link(bot, browser, s, s.slack_id) for s in signers]
                )
                await gather_limited(SETUP_CONCURRENCY, [enrol(bot, s) for s in signers])
                await gather_limited(SETUP_CONCURRENCY, [request_and_open(bot, s) for s in signers])

                masters = [Redis.from_url(url) for url in master_urls]
                measured, extra = signers[: args.approvals], signers[args.approvals :]
                before = command_stats(masters)
                pids = {t.name: t.pid for t in targets}
                for n, node in enumerate(masters, start=1):
                    name = f"redis master {n}" if args.cluster else "redis"
                    pids[name] = int(node.info("server")["process_id"])
                pids["bench + fake Slack"] = os.getpid()
                if sandbox_pid is not None:
                    pids["sandbox"] = sandbox_pid
                cpu_before = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
                if args.profile:
                    target.proc.send_signal(signal.SIGUSR1)
                    await asyncio.sleep(0.2)
                figures = await measure(bot, measured, args.signers, sandbox)
                cpu: dict[str, float] = {}
                for name, pid in pids.items():
                    start, end = cpu_before[name], process_cpu_seconds(pid)
                    if start is not None and end is not None:
                        cpu[name] = (end - start) * 1000 / len(measured)
                if args.profile:
                    target.proc.send_signal(signal.SIGUSR2)
                delta = command_stats(masters) - before
                delta.pop("cmdstat_info", None)
                with contextlib.ExitStack() as watching:
                    seen = [watching.enter_context(monitored(url)) for url in master_urls]
                    for signer in extra:
                        await approve(bot, signer)
                lines = [line for node_lines in seen for line in node_lines]
                sent = [ln for ln in lines if re.search(r"\[\d+ [\d.:]+\]", ln)]
                inside = [ln for ln in lines if "lua]" in ln]
                for node in masters:
                    node.close()
                for running in targets:
                    running.check_running()
    report(args, figures, delta, len(sent) / MONITORED_APPROVALS, len(inside) / MONITORED_APPROVALS)
    print("CPU per approval: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items()))
    ok = figures.errors == 0 and percentile(figures.to_submit_ms, 99) < BUDGET_P99_MS
    return 0 if ok else 1


def report(
    args: argparse.Namespace,
    figures: Figures,
    delta: Counter[str],
    sent_per_approval: float,
    in_scripts_per_approval: float,
) -> None:
    submit, ack = figures.to_submit_ms, figures.to_ack_ms
    p99 = percentile(submit, 99)
    store = "a Redis Cluster (3 masters, 3 replicas)" if args.cluster else "one redis-server"
    print(
        f"\n{figures.approvals} approvals by {figures.approvals} people, {args.signers} at once, "
        f"over {args.processes} bot process(es) on {store}: "
        f"{figures.rate:.1f} approvals/s, errors {figures.errors}"
    )
    if submit:
        print(
            f"modal submission -> submit call at the sandbox: p50 {percentile(submit, 50):.1f} ms"
            f"  p99 {p99:.1f} ms  max {submit[-1]:.1f} ms  mean {statistics.mean(submit):.1f} ms"
        )
    print(
        f"modal submission -> Slack's answer (ack):       p50 {percentile(ack, 50):.1f} ms"
        f"  p99 {percentile(ack, 99):.1f} ms"
    )
    per = sum(delta.values()) / figures.approvals
    top = ", ".join(
        f"{name.removeprefix('cmdstat_')} {calls / figures.approvals:.1f}"
        for name, calls in delta.most_common(8)
    )
    print(f"Redis commands per approval (INFO commandstats, Lua-internal included): {per:.1f}")
    print(
        "Confluence calls per approval (titles and versions are kept with each request): "
        f"{figures.confluence_calls / figures.approvals:.2f}"
    )
    print(f"  {top}")
    print(
        f"Redis commands the bot sent per approval (MONITOR, {MONITORED_APPROVALS} approvals): "
        f"{sent_per_approval:.1f} (+{in_scripts_per_approval:.1f} run inside scripts); "
        f"budget at most {BUDGET_ROUND_TRIPS} round trips"
    )
    verdict = "within" if p99 < BUDGET_P99_MS and figures.errors == 0 else "OVER"
    print(f"budget p99 < {BUDGET_P99_MS:.0f} ms at {args.signers} signers: {verdict}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--signers", type=int, default=50, help="approvals in flight at once")
    parser.add_argument("--approvals", type=int, default=200, help="approvals measured")
    parser.add_argument(
        "--in-process-sandbox",
        action="store_true",
        help="use the sandbox mounted in the bot (it then shares the bot's CPU)",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="profile the bot during the measured approvals"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="bot processes sharing the store; requests go to each in turn (default 1)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="run on a throwaway Redis Cluster (3 masters, 3 replicas) instead of one redis-server",
    )
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.processes > 1 and args.in_process_sandbox:
        parser.error("--processes above 1 needs the sandbox in its own process (the default)")
    if args.processes > 1 and args.profile:
        parser.error("--profile profiles one bot process: use it with --processes 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        args.profile = str(Path(args.profile).resolve())  # the bot runs in another directory
    try:
        return asyncio.run(run(args))
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
