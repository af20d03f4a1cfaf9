"""Debian's Chromium, driven by Selenium through Debian's chromedriver; nothing is downloaded.

The bot runs as `approvals-bot serve` would on a fresh machine (no Slack credentials: the
playground), in its own process, so the browser and the bot never share an event loop.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from services.secretbox import new_key
from testkit.redis_server import free_port
from tests.scenario.test_process import bot_process, clean_env

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTEFACTS = Path(__file__).resolve().parents[2] / ".artefacts" / "browser"


@dataclass
class Served:
    """The bot in playground mode: where it listens and what it printed."""

    url: str
    proc: subprocess.Popen[str]


@pytest.fixture
def playground_process(tmp_path: Path, redis_url: str, redis: object) -> Iterator[Served]:
    port = free_port()
    env = clean_env(
        ENCRYPTION_KEYS=new_key(),
        PORT=str(port),
        DATA_DIR=str(tmp_path / "data"),
        REDIS_URL=redis_url,
        REDIS_PREFIX="browser:",
        # The tracking job polls ApprovalFlow every second, so reviews show without waiting.
        POLL_INTERVAL_SECONDS="1",
        LOG_LEVEL="WARNING",
    )
    with bot_process(env, tmp_path) as proc:
        url = f"http://localhost:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the bot did not start"
            time.sleep(0.2)
        yield Served(url, proc)


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    # Selenium Manager must never fetch a browser or a driver: both are Debian's.
    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
