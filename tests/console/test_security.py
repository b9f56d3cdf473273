"""The console's and cloudnexus.js's security in Chromium: the CSP stops inline script and
eval; the key stays in sessionStorage (never localStorage, a cookie or an address); and a page
of another origin uses cloudnexus.js, loaded from the server, with a delegated token."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.clients.conftest import DIRECT_LIMIT, Server
from tests.console.conftest import Console, MiB, sign_in
from tests.console.test_uploads import choose, throttle


class _AppPage(BaseHTTPRequestHandler):
    """Another origin's page: nothing but a title, no script of its own."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>Someone's app</title><h1>An app</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def app_page(other_origin: str) -> Iterator[str]:
    address = urlsplit(other_origin)
    httpd = ThreadingHTTPServer((address.hostname or "", address.port or 0), _AppPage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"{other_origin}/"
    httpd.shutdown()
    httpd.server_close()


def test_the_csp_stops_inline_script_and_eval(server: Server,
                                              page_and_console: tuple[Any, Console]) -> None:
    page, console = page_and_console
    response = page.goto(f"{server.url}/console/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe" not in policy
    page.get_by_label("API key", exact=True).wait_for()  # the module ran: script from 'self' does
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.body.append(script);
        const image = document.createElement("img");
        image.setAttribute("onerror", "window.handlerRan = true");
        image.src = "missing.png";
        document.body.append(image);
        // Later, outside the evaluation (DevTools lifts the eval rule while it evaluates).
        setTimeout(() => {
            try { eval("1"); window.evalResult = "ran"; } catch (e) { window.evalResult = e.name; }
        });
    }""")
    page.wait_for_function("() => window.evalResult !== undefined")
    page.wait_for_timeout(300)
    assert page.evaluate("() => [window.inlineRan, window.handlerRan, window.evalResult]") == [
        None, None, "EvalError"]
    reported = " ".join(console.errors)
    assert "Executing inline script violates" in reported
    assert "Executing inline event handler violates" in reported
    console.assert_clean("default-src", "missing.png")


def test_the_key_stays_in_session_storage(server: Server, api: httpx.Client, context: Any,
                                          page_and_console: tuple[Any, Console],
                                          tmp_path: Path) -> None:
    page, console = page_and_console
    addresses: list[str] = []
    page.on("request", lambda request: addresses.append(request.url))
    page.on("framenavigated", lambda frame: addresses.append(frame.url))
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    api.post("/v1/buckets", json={"name": bucket}).raise_for_status()
    secret = server.key.split("_", 2)[2]  # the secret may hold "_"

    def assert_kept_in_session_only() -> None:
        stored = page.evaluate("() => [JSON.stringify(localStorage), JSON.stringify(sessionStorage)]")
        assert secret not in stored[0] and secret in stored[1]
        assert context.cookies() == [] and page.evaluate("document.cookie") == ""
        assert not [address for address in addresses if secret in address]

    sign_in(page, server)
    assert_kept_in_session_only()
    page.get_by_role("link", name=bucket).click()
    page.get_by_text("This folder is empty.").wait_for()
    part_sized = tmp_path / "six.bin"
    part_sized.write_bytes(b"\0" * (6 * MiB))  # over the 5 MiB threshold: resume state is kept
    throttle(context, page, 2 * MiB)
    choose(page, part_sized)
    page.wait_for_function("() => Object.keys(localStorage).length > 0")
    assert_kept_in_session_only()
    page.get_by_role("button", name="Cancel upload of six.bin").click()
    page.get_by_role("link", name="Keys").click()
    page.get_by_role("heading", name="API keys").wait_for()
    assert_kept_in_session_only()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key", exact=True).wait_for()
    assert page.evaluate("() => sessionStorage.length") == 0
    console.assert_clean()


def test_another_origin_uses_cloudnexus_js_with_a_delegated_token(
        server: Server, api: httpx.Client, app_page: str, context: Any,
        page_and_console: tuple[Any, Console]) -> None:
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    api.post("/v1/buckets", json={"name": bucket}).raise_for_status()
    grant = {"buckets": [bucket], "prefix": "users/42/", "ops": ["list", "read", "write"]}
    api.post("/v1/signing-keys", json={"name": "app", "algorithm": "HS256"}).raise_for_status()
    minted = api.post("/v1/tokens", json={"sub": "user-42", "expires_in": 600, "cnx": grant})
    token = minted.json()["token"]
    page, console = page_and_console
    page.goto(app_page)
    throttle(context, page, 4 * MiB)
    result = page.evaluate("""async ({api, token, bucket, directLimit}) => {
        const cnx = await import(`${api}/console/cloudnexus.js`);
        const cx = new cnx.CloudNexus({ url: api, token: () => token, directLimit });
        const made = {};
        const ids = {};
        const progress = [];
        for (const [name, size] of [["small.txt", 5], ["medium.bin", 200 * 1024],
                                    ["large.bin", 6 * 1024 * 1024]]) {
            const file = new File([new Uint8Array(size).fill(7)], name);
            const done = await cx.upload(file, { bucket, path: `users/42/${name}`,
                onProgress: (sent, total) => progress.push([name, sent, total]) });
            made[name] = [done.way, done.file.size, done.file.created_by];
            ids[name] = done.file.id;
        }
        // Without being told the server's direct limit, the client learns it from a 413.
        const learner = new cnx.CloudNexus({ url: api, token });
        const learnt = await learner.upload(new File([new Uint8Array(100 * 1024)], "learnt.bin"),
                                            { bucket, path: "users/42/learnt.bin" });
        made.learnt = [learnt.way, learner.directLimit];
        const listed = [];
        for await (const file of cx.files(bucket, { limit: 2 })) listed.push(file.path);
        const bytes = await (await fetch(await cx.contentUrl(ids["small.txt"]))).text();
        const errors = [];
        for (const attempt of [() => cx.createLink(ids["small.txt"]),
                               () => cx.upload(new File(["x"], "x"), { bucket, path: "other/x" }),
                               () => cx.getFile("00000000-0000-0000-0000-000000000000")]) {
            try { await attempt(); errors.push(null); } catch (error) {
                errors.push([error.name, error.status, error.code, Boolean(error.requestId),
                             error instanceof cnx.ApiError]);
            }
        }
        const stop = new AbortController();
        let aborted = null;
        let uploadId = null;
        const big = new File([new Uint8Array(6 * 1024 * 1024)], "aborted.bin");
        try {
            await cx.upload(big, { bucket, path: "users/42/aborted.bin", signal: stop.signal,
                onStart: (upload) => { uploadId = upload.id; },
                onProgress: (sent) => { if (sent > 0) stop.abort(); } });
        } catch (error) { aborted = error.name; }
        const middle = progress.filter(([name, sent, total]) => name === "large.bin"
                                       && sent > 0 && sent < total).length;
        return { made, listed, bytes, errors, aborted, uploadId, middle };
    }""", {"api": server.url, "token": token, "bucket": bucket, "directLimit": DIRECT_LIMIT})
    assert result["made"] == {"small.txt": ["direct", 5, "user-42"],
                              "medium.bin": ["put", 200 * 1024, "user-42"],
                              "large.bin": ["multipart", 6 * MiB, "user-42"],
                              "learnt": ["put", DIRECT_LIMIT]}
    assert result["listed"] == ["users/42/large.bin", "users/42/learnt.bin",
                                "users/42/medium.bin", "users/42/small.txt"]
    assert result["bytes"] == "\x07" * 5
    assert result["middle"] > 0  # progress was reported while the parts went out
    assert result["errors"] == [["Forbidden", 403, "forbidden", True, True],
                                ["Forbidden", 403, "forbidden", True, True],
                                ["NotFound", 404, "not_found", True, True]]
    assert result["aborted"] == "AbortError"
    assert api.get(f"/v1/uploads/{result['uploadId']}").status_code == 404  # aborted there too
    console.assert_clean("status of 403", "status of 404", "status of 413")
