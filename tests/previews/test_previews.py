"""GET /v1/files/{id}/preview on every stack: sizes and fits exact, the EXIF orientation
applied, no metadata in any preview, each limit answered with the contract's status, made
once (concurrent first requests included) and counted, deleted with their file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from cloudnexus.maintenance import run
from cloudnexus.storage.base import ObjectNotFound
from tests.conftest import Tenant
from tests.previews.images import (
    BLUE,
    GREEN,
    HTML,
    RED,
    WHITE,
    encoded,
    gif_two_frames,
    jpeg_oriented,
    metadata_of,
    opened,
    png_claiming,
    png_with_alpha,
    quadrants,
)


def near(pixel: Any, colour: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def upload(client: Any, tenant: Tenant, data: bytes, *, path: str = "pic",
           content_type: str = "image/jpeg", bucket: str = "photos") -> dict[str, Any]:
    response = client.post(f"/v1/buckets/{bucket}/files", headers=tenant.headers(),
                           files={"file": (path, data, content_type)}, data={"path": path})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


class Previewer:
    """Asks for previews and fetches what the redirect points at."""

    def __init__(self, client: Any, tenant: Tenant, send: Callable[..., Any]) -> None:
        self.client, self.tenant, self.send = client, tenant, send

    def ask(self, file_id: str, **query: Any) -> Any:
        return self.client.get(f"/v1/files/{file_id}/preview", params=query,
                               headers=self.tenant.headers(), follow_redirects=False)

    def fetch(self, file_id: str, **query: Any) -> tuple[bytes, str]:
        answer = self.ask(file_id, **query)
        assert answer.status_code == 302, answer.text
        got = self.send("GET", answer.headers["location"])
        assert got.status_code == 200
        return got.content, got.headers["content-type"]


@pytest.fixture
def previewer(stack_client: Any, stack_tenant: Tenant, send: Callable[..., Any]) -> Previewer:
    created = stack_client.post("/v1/buckets", headers=stack_tenant.headers(),
                                json={"name": "photos"})
    assert created.status_code == 201
    return Previewer(stack_client, stack_tenant, send)


def test_sizes_and_fits_are_exact_and_previews_are_counted(previewer: Previewer) -> None:
    client, tenant = previewer.client, previewer.tenant
    file = upload(client, tenant, encoded(quadrants((300, 200)), "JPEG", quality=95))
    assert file["detected_content_type"] == "image/jpeg"
    assert file["image"] == {"width": 300, "height": 200, "format": "jpeg"}
    cases = [({"width": 100, "height": 100}, (100, 100)),
             ({"width": 100, "height": 100, "fit": "contain"}, (100, 67)),
             ({"width": 100, "height": 30, "fit": "fill"}, (100, 30)),
             ({"width": 150}, (150, 100)), ({"height": 50}, (75, 50)),
             ({"width": 600, "height": 600, "fit": "contain"}, (600, 400))]
    total = 0
    for query, size in cases:
        for kind, media_type in (("webp", "image/webp"), ("png", "image/png"),
                                 ("jpeg", "image/jpeg")):
            data, content_type = previewer.fetch(file["id"], format=kind, **query)
            image = opened(data)
            assert (image.size, image.format.lower(), content_type) == (size, kind, media_type)
            total += len(data)
    cover = opened(previewer.fetch(file["id"], width=100, height=100, format="png")[0])
    # cover crops the sides: the middle 200 x 200, so the quadrants meet in the middle.
    assert near(cover.getpixel((5, 5)), RED) and near(cover.getpixel((95, 5)), GREEN)
    assert near(cover.getpixel((5, 95)), BLUE) and near(cover.getpixel((95, 95)), WHITE)
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert usage == {"bytes": file["size"], "files": 1, "derived_bytes": total}
    bucket = client.get("/v1/buckets/photos", headers=tenant.headers()).json()["usage"]
    assert bucket["derived_bytes"] == total


def test_made_once_then_only_signed(previewer: Previewer, stack_app: Any) -> None:
    file = upload(previewer.client, previewer.tenant, encoded(quadrants(), "PNG"),
                  content_type="image/png")
    first = previewer.ask(file["id"], width=64, height=64)
    storage = stack_app.state.runtime.storage
    key = next(iter(storage.list_objects("previews/"))).key
    assert key.endswith(f"/{file['id']}/64x64-cover-q80.webp")
    modified = storage.head(key).last_modified
    second = previewer.ask(file["id"], width=64, height=64)
    assert first.status_code == second.status_code == 302
    assert storage.head(key).last_modified == modified
    assert [info.key for info in storage.list_objects("previews/")] == [key]


def test_concurrent_first_requests_store_one_whole_preview(previewer: Previewer,
                                                           stack_app: Any) -> None:
    file = upload(previewer.client, previewer.tenant, jpeg_oriented(1, (1200, 800)))
    answers: list[int] = []

    def ask() -> None:
        answers.append(previewer.ask(file["id"], width=300, height=300, format="jpeg")
                       .status_code)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [302] * 6
    storage = stack_app.state.runtime.storage
    [info] = storage.list_objects("previews/")
    data, _ = previewer.fetch(file["id"], width=300, height=300, format="jpeg")
    assert opened(data).size == (300, 300) and len(data) == info.size
    usage = previewer.client.get("/v1/workspace", headers=previewer.tenant.headers()).json()
    assert usage["usage"]["derived_bytes"] == info.size


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_and_no_metadata_is_kept(previewer: Previewer,
                                                             orientation: int) -> None:
    source = jpeg_oriented(orientation)
    assert metadata_of(opened(source))["exif"]  # the source does carry EXIF and GPS
    file = upload(previewer.client, previewer.tenant, source)
    assert file["image"] == {"width": 300, "height": 200, "format": "jpeg"}
    for kind in ("webp", "jpeg", "png"):
        data, _ = previewer.fetch(file["id"], width=150, format=kind)
        image = opened(data)
        assert image.size == (150, 100)
        assert metadata_of(image) == {}
        for raw in (b"Exif", b"TestCam", b"secret place", b"taken at home", b"ICC_PROFILE"):
            assert raw not in data
        rgb = image.convert("RGB")
        assert near(rgb.getpixel((10, 10)), RED) and near(rgb.getpixel((140, 10)), GREEN)
        assert near(rgb.getpixel((10, 90)), BLUE) and near(rgb.getpixel((140, 90)), WHITE)


def test_alpha_is_kept_in_png_and_webp_and_laid_on_white_in_jpeg(
        previewer: Previewer) -> None:
    file = upload(previewer.client, previewer.tenant, png_with_alpha(), content_type="image/png")
    assert file["image"] == {"width": 200, "height": 100, "format": "png"}
    for kind in ("png", "webp"):
        image = opened(previewer.fetch(file["id"], width=100, format=kind)[0])
        assert image.mode == "RGBA" and image.size == (100, 50)
        assert image.getpixel((10, 25))[3] == 255 and image.getpixel((90, 25))[3] == 0
    flat = opened(previewer.fetch(file["id"], width=100, format="jpeg")[0])
    assert flat.mode == "RGB"
    assert near(flat.getpixel((10, 25)), RED) and near(flat.getpixel((90, 25)), WHITE)


def test_a_gif_gives_its_first_frame_and_a_webp_is_read(previewer: Previewer) -> None:
    gif = upload(previewer.client, previewer.tenant, gif_two_frames(), content_type="image/gif")
    assert gif["image"] == {"width": 120, "height": 80, "format": "gif"}
    image = opened(previewer.fetch(gif["id"], width=60, format="png")[0]).convert("RGB")
    assert image.size == (60, 40) and near(image.getpixel((30, 20)), GREEN)
    webp = upload(previewer.client, previewer.tenant, encoded(quadrants(), "WEBP"),
                  path="w", content_type="image/webp")
    assert webp["detected_content_type"] == "image/webp"
    assert webp["image"] == {"width": 300, "height": 200, "format": "webp"}
    assert opened(previewer.fetch(webp["id"], width=30, height=20)[0]).size == (30, 20)


def test_what_is_no_image_or_too_large_gets_the_contracts_status(
        previewer: Previewer) -> None:
    client, tenant = previewer.client, previewer.tenant
    bomb = upload(client, tenant, png_claiming(30_000, 30_000), content_type="image/png")
    assert bomb["image"] == {"width": 30_000, "height": 30_000, "format": "png"}
    assert_error(previewer.ask(bomb["id"], width=64), 413, "payload_too_large")
    truncated = upload(client, tenant, jpeg_oriented(1, (800, 600))[:3000], path="cut")
    assert_error(previewer.ask(truncated["id"], width=64), 415, "unsupported_media_type")
    page = upload(client, tenant, HTML, path="page.html", content_type="text/html")
    assert page["detected_content_type"] == "text/html" and page["image"] is None
    assert_error(previewer.ask(page["id"], width=64), 415, "unsupported_media_type")
    text = upload(client, tenant, b"just some words", path="t.txt", content_type="text/plain")
    assert text["detected_content_type"] is None
    assert_error(previewer.ask(text["id"], width=64), 415, "unsupported_media_type")
    assert client.get("/health").status_code == 200


def test_the_query_is_checked(previewer: Previewer) -> None:
    file = upload(previewer.client, previewer.tenant, encoded(quadrants(), "PNG"),
                  content_type="image/png")
    for query in ({}, {"width": 0}, {"width": 2501}, {"height": -1}, {"width": 10, "fit": "x"},
                  {"width": 10, "format": "gif"}, {"width": 10, "quality": 19},
                  {"width": 10, "quality": 101}):
        assert_error(previewer.ask(file["id"], **query), 422, "validation_error")
    assert previewer.ask(file["id"], width=2500, height=1, fit="fill").status_code == 302
    missing = "00000000-0000-0000-0000-000000000000"
    assert_error(previewer.ask(missing, width=10), 404, "not_found")


def test_previews_are_deleted_with_their_file_and_replaced_with_its_bytes(
        previewer: Previewer, stack_app: Any) -> None:
    client, tenant = previewer.client, previewer.tenant
    storage = stack_app.state.runtime.storage
    first = upload(client, tenant, encoded(quadrants(), "PNG"), content_type="image/png")
    previewer.fetch(first["id"], width=32)
    previewer.fetch(first["id"], width=64)
    old = [info.key for info in storage.list_objects("previews/")]
    assert len(old) == 2
    replaced = client.post("/v1/buckets/photos/files", headers=tenant.headers(),
                           files={"file": ("pic", encoded(quadrants((90, 60)), "PNG"),
                                           "image/png")},
                           data={"path": "pic", "overwrite": "true"})
    assert replaced.status_code == 201
    assert list(storage.list_objects("previews/")) == []
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert usage["derived_bytes"] == 0
    second = replaced.json()
    assert opened(previewer.fetch(second["id"], width=45)[0]).size == (45, 30)
    assert client.delete(f"/v1/files/{second['id']}", headers=tenant.headers()).status_code \
        == 204
    assert list(storage.list_objects("previews/")) == []
    usage = client.get("/v1/workspace", headers=tenant.headers()).json()["usage"]
    assert usage == {"bytes": 0, "files": 0, "derived_bytes": 0}


def test_maintenance_removes_orphaned_previews(previewer: Previewer, stack_app: Any) -> None:
    storage = stack_app.state.runtime.storage
    file = upload(previewer.client, previewer.tenant, encoded(quadrants(), "PNG"),
                  content_type="image/png")
    previewer.fetch(file["id"], width=32)
    [kept] = storage.list_objects("previews/")
    workspace, bucket = kept.key.split("/")[1:3]
    orphan = f"previews/{workspace}/{bucket}/{'1' * 32}/32x-cover-q80.webp"
    uncounted = kept.key.rsplit("/", 1)[0] + "/64x-cover-q80.webp"
    for key in (orphan, uncounted):
        storage.create(key, b"x", content_type="image/webp")
    report = run(stack_app.state.runtime, orphan_grace=timedelta(0))
    assert report.previews_removed == 2
    assert [info.key for info in storage.list_objects("previews/")] == [kept.key]
    for key in (orphan, uncounted):
        with pytest.raises(ObjectNotFound):
            storage.head(key)
