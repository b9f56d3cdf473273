"""The console in a real browser: Debian's Chromium through Playwright, against a really running
`cloudnexus serve` on the embedded default (one server per module, one browser for them all).

Every page records its console errors and uncaught exceptions; `Console.assert_clean` fails a
test on any of them but the ones it names as expected (e.g. the 401 of a wrong key, which
Chromium logs as "Failed to load resource")."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clients.conftest import Server, _serve
from tests.conftest import free_port

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MiB = 1024 * 1024
QUOTA_BYTES = 64 * MiB
ARTIFACTS = Path(os.environ.get("CONSOLE_ARTIFACTS", "/tmp/cloudnexus-console-artifacts"))


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for every test here, closed when they are done: Playwright's sync API keeps
    an event loop running on the main thread while it is open, which later tests' own
    asyncio.run() (Mangum's handler among them) would find and fail on."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def other_origin() -> str:
    """The origin of a page served from another port (allowed by the server's CORS_ORIGINS)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, other_origin: str) -> Iterator[Server]:
    """`cloudnexus serve` on SQLite + a local folder: direct uploads up to 64 KiB, parts over
    5 MiB, a 64 MiB quota (so usage shows as bars)."""
    environment = {"CORS_ORIGINS": other_origin}
    for running in _serve("embedded", environment, tmp_path_factory.mktemp("console")):
        admin(running, "workspace", "set-quota", "acme", "--max-bytes", str(QUOTA_BYTES),
              "--max-files", "10000")
        yield running


def admin(server: Server, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "cloudnexus", *args], env=server.environment,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    """The same server through its API, to arrange and to check what the browser did."""
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {server.key}"}) as client:
        yield client


@dataclass
class Console:
    """What a page logged: errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def assert_clean(self, *expected: str) -> None:
        unexpected = [e for e in self.errors if not any(text in e for text in expected)]
        assert unexpected == [], unexpected
        self.errors.clear()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    yield context
    context.close()


@pytest.fixture
def page_and_console(context: Any) -> tuple[Any, Console]:
    page = context.new_page()
    console = Console()

    def on_message(message: Any) -> None:
        if message.type == "error":
            location = message.location.get("url", "")
            console.errors.append(f"{message.text} [{location}]")

    page.on("console", on_message)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    return page, console


def sign_in(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/console/")
    page.get_by_label("API key", exact=True).fill(server.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Buckets").wait_for()


def shot(page: Any, name: str) -> Path:
    """A screenshot into the artifacts folder (CONSOLE_ARTIFACTS), for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
