"""The `approvals-bot` command: serve, worker, check, keygen, sandbox, audit."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import Settings, load_settings
from bot.logging_setup import configure_logging
from services.errors import ConfigError
from services.secretbox import new_key

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="approvals-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve Slack and the web routes (and run the jobs)")
    serve.add_argument("--socket", action="store_true", help="use Socket Mode (SLACK_APP_TOKEN)")
    serve.add_argument("--no-jobs", action="store_true", help="leave background jobs to a worker")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    sub.add_parser("worker", help="run only the background jobs")
    sub.add_parser("check", help="say what the bot is connected to and whether each part answers")
    sub.add_parser("keygen", help="print a new ENCRYPTION_KEYS key")
    return parser


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
    settings = _settings()
    configure_logging(settings.LOG_LEVEL)
    try:
        if args.command == "serve":
            from bot.server import serve

            asyncio.run(serve(settings, socket_mode=args.socket, run_jobs=not args.no_jobs, host=args.host))
        elif args.command == "worker":
            from bot.server import work

            asyncio.run(work(settings))
        elif args.command == "check":
            return asyncio.run(_check(settings))
    except ConfigError as exc:
        print(f"approvals-bot cannot start.\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


async def _check(settings: Settings) -> int:
    from bot.check import check_lines
    from bot.wiring import build

    async with build(settings) as container:
        healthy, lines = await check_lines(container)
    print("\n".join(lines))
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
