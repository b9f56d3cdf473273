"""/docs renders from the package alone: no CDN, no inline script, under its CSP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from cloudnexus.app import create_app
from tests.conftest import free_port

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def docs_client(make_settings: Any) -> Iterator[TestClient]:
    app = create_app(make_settings(log_level="WARNING"))
    with TestClient(app) as client:
        yield client
    app.state.runtime.close()


def test_the_page_loads_only_its_own_files_and_runs_no_inline_script(
        docs_client: TestClient) -> None:
    page = docs_client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert "default-src 'self'" in csp
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(not urlsplit(source).netloc for source in sources)  # no CDN
    assert re.findall(r"<script>", page.text) == []  # every script has a src
    for source in sources:
        asset = docs_client.get(f"/{source}")
        assert asset.status_code == 200 and len(asset.content) > 100, source
    assert docs_client.get("/docs/swagger-ui-bundle.js").headers["content-type"].startswith(
        "text/javascript")
    assert docs_client.get("/docs/nothing.js").status_code == 404


def test_docs_enabled_false_serves_neither_page_nor_assets(make_settings: Any) -> None:
    app = create_app(make_settings(docs_enabled=False, log_level="WARNING"))
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/docs/swagger-ui-bundle.js").status_code == 404
        assert client.get("/openapi.json").status_code == 404
    app.state.runtime.close()


@pytest.fixture(scope="module")
def served_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `cloudnexus serve` on the embedded default."""
    data_dir, port = tmp_path_factory.mktemp("docs"), free_port()
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    with (data_dir / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudnexus", "serve", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM}: apt-get install chromium")
def test_docs_render_in_chromium_with_the_network_off(served_url: str) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page()

            def only_loopback(route: Any) -> None:
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:  # the network is off: anything else would fail to load
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_loopback)
            page.on("console", lambda message: problems.append(message.text)
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{served_url}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert any(text.replace("\u200b", "") == "/v1/buckets" for text in paths), paths
            assert page.locator(".info .title").inner_text().startswith("CloudNexus")
            # A script written into the page does not run under the page's CSP.
            page.evaluate("""() => { const s = document.createElement('script');
                s.textContent = 'window.injected = true'; document.body.appendChild(s); }""")
            assert page.evaluate("() => window.injected === undefined")
        finally:
            browser.close()
    assert outside == []
    csp_reports = [text for text in problems if "Content Security Policy" in text]
    assert len(csp_reports) == 1 and "inline script" in csp_reports[0]  # the one we injected
    assert [text for text in problems if text not in csp_reports] == []
