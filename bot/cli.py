"""The `approvals-bot` command: serve, worker, check, keygen, sandbox, audit, evidence."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from bot.audit_cli import export_command, verify_command
from bot.check import check_lines
from bot.config import Settings, load_settings
from bot.evidence_cli import evidence_command
from bot.logging_setup import configure_logging
from bot.server import serve, work
from bot.wiring import build
from emulators.approvalflow import SandboxState, serve_sandbox
from services.errors import ConfigError
from services.secretbox import new_key

EXIT_CONFIG = 2
T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="approvals-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve Slack and the web routes (and run the jobs)")
    serve.add_argument("--socket", action="store_true", help="use Socket Mode (SLACK_APP_TOKEN)")
    serve.add_argument("--no-jobs", action="store_true", help="leave background jobs to a worker")
    serve.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 0.0.0.0; 127.0.0.1 for the playground)",
    )
    sub.add_parser("worker", help="run only the background jobs")
    sub.add_parser("check", help="say what the bot is connected to and whether each part answers")
    sub.add_parser("keygen", help="print a new ENCRYPTION_KEYS key")
    sandbox = sub.add_parser("sandbox", help="run the ApprovalFlow sandbox on its own")
    sandbox.add_argument("--port", type=int, default=3100)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--data", type=Path, default=None, help="JSON file to keep its state in")
    audit = sub.add_parser("audit", help="check or export the tamper-evident audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the hash chain; names the first broken entry")
    export = audit_sub.add_parser("export", help="write the trail as CSV or JSON Lines to stdout")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("--since", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    evidence = sub.add_parser(
        "evidence",
        help="write a request's signature evidence report (PDF), or verify a report file",
        description="evidence <request-id> [-o FILE] | evidence verify FILE",
    )
    evidence.add_argument("words", nargs="+", metavar="REQUEST-ID | verify FILE")
    evidence.add_argument("-o", "--output", type=Path, default=None, metavar="FILE")
    return parser


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, on uvloop where it is installed (the faster loop; bench/ack.py)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # Windows, or a trimmed install: the standard loop works too
        return None
    return uvloop.new_event_loop


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"approvals-bot cannot start.\n{exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "keygen":
        print(new_key())
        return 0
    if args.command == "sandbox":
        # The sandbox needs none of the bot's settings: it stands in for Atlassian.
        configure_logging("INFO")
        run(serve_sandbox(args.host, args.port, SandboxState(persist_path=args.data)))
        return 0
    settings = _settings()
    # Servers log JSON lines to stdout (§5); one-shot commands print their answer there instead.
    server = args.command in ("serve", "worker")
    configure_logging(settings.LOG_LEVEL, sys.stdout if server else sys.stderr)
    try:
        if args.command == "serve":
            run(serve(settings, socket_mode=args.socket, run_jobs=not args.no_jobs, host=args.host))
        elif args.command == "worker":
            run(work(settings))
        elif args.command == "check":
            return run(_check(settings))
        elif args.command == "audit":
            return run(_audit(settings, args))
        elif args.command == "evidence":
            return run(_evidence(settings, args))
    except ConfigError as exc:
        print(f"approvals-bot cannot start.\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


async def _check(settings: Settings) -> int:
    async with build(settings) as container:
        healthy, lines = await check_lines(container)
    print("\n".join(lines))
    return 0 if healthy else 1


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    async with build(settings) as container:
        if args.audit_command == "verify":
            code, text = await verify_command(container.audit_log, container.audit_keys)
            print(text)
            return code
        return await export_command(container.audit_log, args.format, args.since, sys.stdout)


async def _evidence(settings: Settings, args: argparse.Namespace) -> int:
    async with build(settings) as container:
        return await evidence_command(
            container.evidence, args.words, args.output, sys.stdout, sys.stderr
        )


if __name__ == "__main__":
    raise SystemExit(main())
