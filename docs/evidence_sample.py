"""Makes docs/evidence-sample.pdf and its first page as docs/evidence-sample-page1.png.

The same path people take, in the sandbox: Alice requests sign-off of change set PR-184 under
the multi-stage policy `doc-control` (tests/scenario/test_policies.py: the author, two peer
reviewers of a user group, QA), each signer approves with their Approval Token code in turn, the
sandbox's reviewer approves the pages while the bot tracks the review, and Alice asks for
`/approvals evidence`; the PDF is the file Slack got.
Run with `.venv/bin/python -m docs.evidence_sample` (needs redis-server and poppler-utils).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

from emulators.slack import FakeSlack
from testkit.redis_server import throwaway_redis
from tests.fakes.clock import FakeClock
from tests.scenario.evidence_kit import by_command, reviewed
from tests.scenario.test_policies import policies_world, sign

DOCS = Path(__file__).resolve().parent
PDF = DOCS / "evidence-sample.pdf"
PNG = DOCS / "evidence-sample-page1.png"
# doc-control's signers in its order: the author, the two peer reviewers, QA.
SIGNERS = ("U0BOB", "U0CAROL", "U0DAVE", "U0ERIN")


async def make_sample() -> bytes:
    clock = FakeClock()
    with throwaway_redis() as redis_url, tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeSlack(clock=clock) as slack,
            policies_world(slack, redis_url, clock, Path(tmp)) as world,
        ):
            posted = await world.request("cs-eng184")
            for user in SIGNERS:
                clock.advance(minutes=40)
                assert "Signed" in await sign(world, user, posted), user
            await reviewed(world)
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
