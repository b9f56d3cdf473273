"""Large uploads from the console in Chromium: a 20 MiB multipart upload with its progress
shown, a cancelled one leaving nothing behind, and one resumed after a reload of the page.
Chromium's own network throttling (DevTools protocol) slows the uploads enough to watch."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.clients.conftest import Server
from tests.console.conftest import QUOTA_BYTES, Console, MiB, shot, sign_in

BIG = 20 * MiB  # over the server's 5 MiB threshold: two parts of the server's 16 MiB


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    path.write_bytes(os.urandom(BIG))
    return path


@pytest.fixture
def bucket(api: httpx.Client) -> str:
    name = f"b-{uuid.uuid4().hex[:8]}"
    api.post("/v1/buckets", json={"name": name}).raise_for_status()
    return name


def throttle(context: Any, page: Any, bytes_per_second: int) -> None:
    """Chromium's network throttling of this page's uploads (-1: none)."""
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": bytes_per_second})


def open_bucket(page: Any, server: Server, bucket: str) -> None:
    sign_in(page, server)
    page.get_by_role("link", name=bucket).click()
    page.get_by_text("This folder is empty.").wait_for()


def choose(page: Any, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload", exact=True).click()
    chooser.value.set_files(str(path))


def saved_upload_id(page: Any) -> str | None:
    """The upload id the client keeps for resuming (localStorage), if any."""
    return page.evaluate("""() => {
        const key = Object.keys(localStorage).find(k => k.startsWith("cloudnexus.upload."));
        return key ? JSON.parse(localStorage.getItem(key)).upload_id : null;
    }""")


def start_slow_upload(page: Any, context: Any, server: Server, bucket: str, path: Path) -> str:
    """Upload `path` at 2 MiB/s from the console; the upload's id once bytes are going out."""
    open_bucket(page, server, bucket)
    throttle(context, page, 2 * MiB)
    choose(page, path)
    page.wait_for_function("() => document.querySelector('#uploads progress').value > 0")
    upload_id = saved_upload_id(page)
    assert upload_id is not None
    return upload_id


def assert_quota_free(api: httpx.Client, bucket: str, used_before: int) -> None:
    """Nothing stored and nothing reserved since `used_before`: the rest of the quota can be
    taken by one upload (which is then aborted)."""
    assert api.get("/v1/workspace").json()["usage"]["bytes"] == used_before
    rest = QUOTA_BYTES - used_before
    whole = api.post(f"/v1/buckets/{bucket}/uploads", json={
        "path": "all-the-rest.bin", "size": rest, "content_type": "application/octet-stream"})
    assert whole.status_code == 201, whole.text
    api.delete(f"/v1/uploads/{whole.json()['id']}").raise_for_status()


def only_file(api: httpx.Client, bucket: str) -> dict[str, Any]:
    [file] = api.get(f"/v1/buckets/{bucket}/files").json()["items"]
    return file  # type: ignore[no-any-return]


def test_a_20_mib_upload_goes_in_parts_with_visible_progress(
        server: Server, api: httpx.Client, context: Any, bucket: str, big_file: Path,
        page_and_console: tuple[Any, Console]) -> None:
    page, console = page_and_console
    open_bucket(page, server, bucket)
    throttle(context, page, 8 * MiB)
    choose(page, big_file)
    bar = page.get_by_role("progressbar", name=f"Upload of {big_file.name}")
    page.wait_for_function("() => { const p = document.querySelector('#uploads progress');"
                           " return p.value > p.max * 0.2 && p.value < p.max * 0.8; }")
    row = page.locator("#uploads li", has_text=big_file.name)
    assert " MB of 21 MB" in row.inner_text()
    shot(page, "upload-progress")
    expect(row).to_contain_text("Done", timeout=60_000)
    assert row.get_attribute("data-way") == "multipart"
    assert bar.evaluate("p => p.value === p.max")
    stored = only_file(api, bucket)
    assert stored["size"] == BIG
    assert stored["sha256"] == hashlib.sha256(big_file.read_bytes()).hexdigest()
    assert saved_upload_id(page) is None  # a finished upload leaves no resume state
    console.assert_clean()


@pytest.mark.parametrize("how", ["cancelled", "discarded after a reload"])
def test_a_stopped_upload_leaves_nothing_behind(
        server: Server, api: httpx.Client, context: Any, bucket: str, big_file: Path,
        page_and_console: tuple[Any, Console], how: str) -> None:
    page, console = page_and_console
    used_before = api.get("/v1/workspace").json()["usage"]["bytes"]
    upload_id = start_slow_upload(page, context, server, bucket, big_file)
    if how == "cancelled":
        page.get_by_role("button", name=f"Cancel upload of {big_file.name}").click()
        expect(page.locator("#uploads li", has_text=big_file.name)).to_contain_text("Cancelled")
    else:
        page.reload()
        page.get_by_role("button", name=f"Discard upload of {big_file.name}").click()
        expect(page.locator("#uploads li.interrupted")).to_have_count(0)

    expect(page.get_by_text("This folder is empty.")).to_be_visible()
    assert api.get(f"/v1/buckets/{bucket}/files").json()["items"] == []
    assert api.get(f"/v1/uploads/{upload_id}").status_code == 404  # aborted before it said so
    assert saved_upload_id(page) is None
    parts = Path(server.environment["DATA_DIR"]) / "multipart"
    assert not parts.is_dir() or list(parts.iterdir()) == []  # no part kept on disk
    assert_quota_free(api, bucket, used_before)
    page.reload()  # and nothing is offered for resuming
    page.get_by_text("This folder is empty.").wait_for()
    expect(page.locator("#uploads li")).to_have_count(0)
    console.assert_clean()


def test_a_reload_mid_upload_resumes_where_it_stopped(
        server: Server, api: httpx.Client, context: Any, bucket: str, big_file: Path,
        page_and_console: tuple[Any, Console]) -> None:
    page, console = page_and_console
    upload_id = start_slow_upload(page, context, server, bucket, big_file)
    for _ in range(300):  # until the smaller part is in (the larger one is still on its way)
        received = api.get(f"/v1/uploads/{upload_id}").json()["parts_received"]
        if received:
            break
        page.wait_for_timeout(100)
    assert [part["part_number"] for part in received] == [2]

    page.reload()  # the page, its uploads and its File objects are gone; sessionStorage stays
    page.get_by_text("This folder is empty.").wait_for()
    hint = page.locator("#uploads li.interrupted")
    expect(hint).to_have_text(re.compile(r"big\.bin\s*Interrupted: upload big\.bin \(21 MB\)"))
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url}")
            if r.method in {"POST", "PUT"} else None)
    choose(page, big_file)  # the same file again, into the same place
    row = page.locator("#uploads li", has_text=big_file.name)
    expect(row).to_contain_text("Done (resumed)", timeout=60_000)
    expect(hint).to_have_count(0)

    upload = api.get(f"/v1/uploads/{upload_id}").json()
    stored = only_file(api, bucket)
    assert stored["id"] == upload["file_id"] and upload["status"] == "completed"
    assert stored["sha256"] == hashlib.sha256(big_file.read_bytes()).hexdigest()
    puts = [line for line in sent if line.startswith("PUT")]
    assert len(puts) == 1 and "part_number=1" in puts[0]  # only the part that was missing
    assert not [line for line in sent if line.endswith(f"/v1/buckets/{bucket}/uploads")]
    console.assert_clean()

