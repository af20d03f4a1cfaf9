"""Makes docs/evidence-sample.pdf and its first page as docs/evidence-sample-page1.png.

The same path a person takes, in the sandbox: Alice requests sign-off of change set PR-184,
Bob approves it with his Approval Token code, the sandbox's reviewers approve the pages while the
bot tracks the review, and Alice asks for `/approvals evidence`; the PDF is the file Slack got.
Run with `.venv/bin/python -m docs.evidence_sample` (needs redis-server and poppler-utils).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

from emulators.slack import FakeSlack
from services.secretbox import new_key
from testkit.redis_server import throwaway_redis
from tests.fakes.clock import FakeClock
from tests.scenario.evidence_kit import approved_and_reviewed, by_command
from tests.scenario.requests_kit import requests_world

DOCS = Path(__file__).resolve().parent
PDF = DOCS / "evidence-sample.pdf"
PNG = DOCS / "evidence-sample-page1.png"


async def make_sample() -> bytes:
    clock = FakeClock()
    with throwaway_redis() as redis_url:
        async with (
            FakeSlack(clock=clock) as slack,
            requests_world(slack, redis_url, clock, ENCRYPTION_KEYS=new_key()) as world,
        ):
            await world.ready("U0ALICE", "U0BOB")
            posted = await approved_and_reviewed(world)
            clock.advance(hours=2)
            file = await by_command(world, "U0ALICE", posted.id)
            assert file.content is not None
            return file.content


def main() -> None:
    content = asyncio.run(make_sample())
    PDF.write_bytes(content)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "page"
        first_page = ["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"]
        subprocess.run(["pdftoppm", *first_page, str(PDF), str(prefix)], check=True)  # noqa: S603, S607
        shutil.copyfile(prefix.with_suffix(".png"), PNG)
    print(f"wrote {PDF} ({len(content)} bytes) and {PNG}")


if __name__ == "__main__":
    main()
