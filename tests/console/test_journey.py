"""The console's whole journey in Chromium against a running `cloudnexus serve`: sign in (and a
wrong key), buckets and New bucket, the folder browser (folders first, breadcrumbs, sorting,
search, pages loaded on scroll), uploads by button and by drag-and-drop, a file's preview,
download, Rename, Share with copy and Delete, bulk delete with confirmation, keys, usage bars,
and the layout at 360 px."""

from __future__ import annotations

import os
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.clients.conftest import DIRECT_LIMIT, Server
from tests.console.conftest import QUOTA_BYTES, Console, shot, sign_in

WRONG_KEY_LOG = "status of 401"  # Chromium logs the refused sign-in as a failed resource


def png(width: int, height: int) -> bytes:
    """A real PNG of noise (incompressible: larger than the direct-upload limit)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def new_bucket(api: httpx.Client, files: dict[str, bytes]) -> str:
    name = f"b-{uuid.uuid4().hex[:8]}"
    api.post("/v1/buckets", json={"name": name}).raise_for_status()
    for path, content in files.items():
        api.post(f"/v1/buckets/{name}/files", files={"file": ("f", content, "text/plain")},
                 data={"path": path}).raise_for_status()
    return name


def names(page: Any) -> list[str]:
    """The rows of the folder browser as shown: folders, then files."""
    return [text.strip() for text in page.locator("#file-table tbody tr td:nth-child(2)")
            .all_inner_texts()]


def paths(api: httpx.Client, bucket: str) -> list[str]:
    return [f["path"] for f in api.get(f"/v1/buckets/{bucket}/files").json()["items"]]


def test_sign_in_buckets_usage_and_new_bucket(server: Server, api: httpx.Client,
                                              page_and_console: tuple[Any, Console]) -> None:
    page, console = page_and_console
    page.goto(f"{server.url}/console")
    assert page.url == f"{server.url}/console/"
    page.get_by_label("API key", exact=True).fill("cnx_nope_nope")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    console.assert_clean(WRONG_KEY_LOG)
    shot(page, "sign-in-wrong-key")

    sign_in(page, server)
    storage = page.get_by_role("meter", name="Storage")
    assert storage.evaluate("m => [m.value, m.max]") == [
        api.get("/v1/workspace").json()["usage"]["bytes"], QUOTA_BYTES]
    assert page.get_by_role("meter", name="Files").is_visible()

    page.get_by_role("button", name="New bucket").click()
    dialog = page.get_by_role("dialog", name="New bucket")
    dialog.get_by_label("Name").fill("holiday-pictures")
    dialog.get_by_label("Largest file (MB, empty for no limit)").fill("2")
    dialog.get_by_label("Allowed types", exact=False).fill("image/*, text/plain")
    dialog.get_by_role("button", name="Create").click()
    link = page.get_by_role("link", name="holiday-pictures")
    link.wait_for()
    bucket = api.get("/v1/buckets/holiday-pictures").json()
    assert (bucket["public"], bucket["max_file_size"], bucket["allowed_content_types"]) == (
        False, 2_000_000, ["image/*", "text/plain"])
    row = page.locator("#bucket-table tr", has=link)
    assert "image/*, text/plain" in row.inner_text()
    shot(page, "buckets")

    page.get_by_role("button", name="New bucket").click()  # a bad name: the API says why
    dialog.get_by_label("Name").fill("holiday-pictures")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_contain_text("conflict")
    dialog.get_by_role("button", name="Cancel").click()
    console.assert_clean("status of 409")

    link.click()
    page.get_by_text("This folder is empty.").wait_for()
    assert "/console/#/b/holiday-pictures/" in page.url
    console.assert_clean()


def test_folder_browser(server: Server, api: httpx.Client,
                        page_and_console: tuple[Any, Console]) -> None:
    files = {"readme.txt": b"x" * 10, "b.txt": b"x" * 300, "notes/2026/a.txt": b"a",
             "notes/x.txt": b"x", "zeta/z.txt": b"z"}
    files.update({f"many/f-{n:03}.txt": b"m" for n in range(60)})
    bucket = new_bucket(api, files)
    page, console = page_and_console
    listings: list[str] = []
    page.on("request", lambda r: listings.append(r.url) if "/files?" in r.url else None)
    sign_in(page, server)
    page.get_by_role("link", name=bucket).click()
    page.get_by_role("button", name="readme.txt").wait_for()
    assert names(page) == ["many/", "notes/", "zeta/", "b.txt", "readme.txt"]  # folders first
    shot(page, "browser")

    file_names = page.locator("#file-rows tr td:nth-child(2)")
    header = page.get_by_role("columnheader", name="Size")
    header.get_by_role("button").click()
    expect(file_names).to_have_text(["readme.txt", "b.txt"])
    assert header.get_attribute("aria-sort") == "ascending"
    header.get_by_role("button").click()
    expect(file_names).to_have_text(["b.txt", "readme.txt"])
    assert header.get_attribute("aria-sort") == "descending"
    # Folders stay first, in their order (waited for: the rows are drawn again on a sort).
    expect(page.locator("#file-table tbody tr td:nth-child(2)")).to_have_text(
        ["many/", "notes/", "zeta/", "b.txt", "readme.txt"])
    assert "sort=size" in listings[-1] and "order=desc" in listings[-1]

    page.get_by_role("link", name="notes/").click()
    page.get_by_role("link", name="2026/").click()
    page.get_by_role("button", name="a.txt").wait_for()
    crumbs = page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link")
    assert crumbs.all_inner_texts() == ["Buckets", bucket, "notes", "2026"]
    assert crumbs.last.get_attribute("aria-current") == "page"
    crumbs.nth(1).click()
    page.get_by_role("button", name="readme.txt").wait_for()

    page.get_by_label("Search").fill("A.TXT")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("#file-table tbody tr td:nth-child(2)")).to_have_text(
        ["notes/2026/a.txt"])
    assert "q=A.TXT" in listings[-1]
    page.get_by_label("Search").fill("")
    page.get_by_label("Search").press("Enter")

    page.get_by_role("link", name="many/").click()
    state = page.locator("#listing-state")
    expect(state).to_have_text("0 folders, 50 files so far")  # one page; more when scrolled to
    assert "prefix=many%2F" in listings[-1] and "cursor=" not in listings[-1]
    page.locator("#more").scroll_into_view_if_needed()
    expect(state).to_have_text("0 folders, 60 files")
    assert page.locator("#file-rows tr").count() == 60
    assert "cursor=" in listings[-1]
    console.assert_clean()


def test_upload_preview_download_rename_share_delete(
        server: Server, api: httpx.Client, context: Any,
        page_and_console: tuple[Any, Console]) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    bucket = new_bucket(api, {})
    picture = png(200, 150)
    assert len(picture) > DIRECT_LIMIT  # so it goes by a presigned PUT
    page, console = page_and_console
    sign_in(page, server)
    page.get_by_role("link", name=bucket).click()
    page.get_by_text("This folder is empty.").wait_for()

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload", exact=True).click()
    chooser.value.set_files([
        {"name": "one.txt", "mimeType": "text/plain", "buffer": b"one"},
        {"name": "pic.png", "mimeType": "image/png", "buffer": picture}])
    uploads = page.get_by_role("list", name="Uploads")
    for name, way in (("one.txt", "direct"), ("pic.png", "put")):
        row = uploads.locator("li", has_text=name)
        row.get_by_text("Done").wait_for()
        assert row.get_attribute("data-way") == way
        assert row.get_by_role("progressbar").evaluate("p => p.value === p.max")
    dropped = page.evaluate_handle("""() => {
        const data = new DataTransfer();
        data.items.add(new File(["dropped bytes"], "dropped.txt", {type: "text/plain"}));
        return data;
    }""")
    page.dispatch_event("#browser-view", "drop", {"dataTransfer": dropped})
    uploads.locator("li", has_text="dropped.txt").get_by_text("Done").wait_for()
    page.get_by_role("button", name="dropped.txt").wait_for()
    assert sorted(paths(api, bucket)) == ["dropped.txt", "one.txt", "pic.png"]

    page.get_by_role("button", name="pic.png").click()
    dialog = page.get_by_role("dialog", name="pic.png")
    preview = dialog.get_by_role("img", name="Preview of pic.png")
    preview.wait_for()
    # Drawn from the service's /preview (640 x 480, contain), which the service now has.
    page.wait_for_function("() => document.querySelector('#preview').naturalWidth > 0")
    shot(page, "file")

    with page.expect_download() as download:
        dialog.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "pic.png"
    assert Path(download.value.path()).read_bytes() == picture

    dialog.get_by_role("button", name="Rename").click()
    dialog.get_by_label("New path").fill("renamed/pic.png")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="renamed/pic.png").wait_for()
    assert "renamed/pic.png" in paths(api, bucket)

    dialog = page.get_by_role("dialog", name="renamed/pic.png")
    dialog.get_by_role("button", name="Share").click()
    dialog.get_by_label("Expires in").select_option(label="1 hour")
    dialog.get_by_label("Max downloads (empty for no limit)").fill("2")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.get_by_label("Share link")
    link.wait_for()
    url = link.input_value()
    assert url.startswith(f"{server.url}/s/")
    dialog.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == url
    shared = httpx.get(url, follow_redirects=True)
    assert shared.content == picture
    file_id = next(f["id"] for f in api.get(f"/v1/buckets/{bucket}/files").json()["items"]
                   if f["path"] == "renamed/pic.png")
    [made] = api.get(f"/v1/files/{file_id}/links").json()["items"]
    assert made["max_downloads"] == 2 and made["downloads"] == 1
    shot(page, "share")

    dialog.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete renamed/pic.png? This cannot be undone.")
    confirm.get_by_role("button", name="Delete").click()
    page.get_by_role("link", name="renamed/").wait_for(state="detached")
    assert api.get(f"/v1/files/{file_id}").status_code == 404

    page.get_by_role("checkbox", name="Select one.txt").check()
    page.get_by_role("checkbox", name="Select dropped.txt").check()
    page.get_by_role("button", name="Delete selected (2)").click()
    confirm = page.get_by_role("dialog", name="Delete 2 files? This cannot be undone.")
    confirm.get_by_role("button", name="Cancel").click()
    assert sorted(paths(api, bucket)) == ["dropped.txt", "one.txt"]
    page.get_by_role("button", name="Delete selected (2)").click()
    confirm.get_by_role("button", name="Delete").click()
    page.get_by_text("This folder is empty.").wait_for()
    assert paths(api, bucket) == []
    console.assert_clean()


def test_keys_create_copy_and_revoke(server: Server, api: httpx.Client, context: Any,
                                     page_and_console: tuple[Any, Console]) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page, console = page_and_console
    sign_in(page, server)
    page.get_by_role("link", name="Keys").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("ci-job")
    page.get_by_label("files:write").check()
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_label("The new key")
    shown.wait_for()
    key = shown.input_value()
    assert key.startswith("cnx_")
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == key
    as_new = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{server.url}/v1/buckets", headers=as_new).status_code == 200
    row = page.locator("#key-table tr", has_text="ci-job")
    assert "files:read, files:write" in row.inner_text()
    assert page.get_by_role("heading", name="Webhooks").count() == 1  # the service has them
    shot(page, "keys")

    row.get_by_role("button", name="Revoke ci-job").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    page.locator("#key-table tr", has_text="ci-job").get_by_text("revoked").wait_for()
    assert httpx.get(f"{server.url}/v1/buckets", headers=as_new).status_code == 401
    console.assert_clean()


@pytest.mark.parametrize("view", ["#/", "#/b/{bucket}/", "#/keys"])
def test_readable_at_360_px(server: Server, api: httpx.Client, browser: Any, view: str) -> None:
    bucket = new_bucket(api, {"a-rather-long-folder-name/with-a-long-file-name.txt": b"x",
                              "report.txt": b"y"})
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        sign_in(page, server)
        page.goto(f"{server.url}/console/{view.format(bucket=bucket)}")
        page.locator("main section:not([hidden]) tbody tr").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        if "/b/" in view:
            shot(page, "narrow-browser")
    finally:
        context.close()


def tab_to(page: Any, name: str) -> None:
    """Press Tab until the focused element is named `name` (its text or aria-label)."""
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => { const e = document.activeElement;"
                                " return e.getAttribute('aria-label') || e.textContent.trim(); }")
        if focused == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_usable_by_keyboard(server: Server, api: httpx.Client,
                            page_and_console: tuple[Any, Console]) -> None:
    bucket = new_bucket(api, {"notes.txt": b"n"})
    page, console = page_and_console
    page.goto(f"{server.url}/console/")
    page.get_by_label("API key", exact=True).wait_for()
    page.keyboard.type(server.key)  # the field has the focus
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Buckets").wait_for()
    tab_to(page, bucket)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="notes.txt").wait_for()
    tab_to(page, "notes.txt")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="notes.txt")
    expect(dialog).to_be_visible()
    assert page.evaluate("() => document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("() => document.activeElement.textContent") == "notes.txt"
    console.assert_clean()
