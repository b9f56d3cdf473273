"""Previews from a real `cloudnexus serve`: a header claiming 900 megapixels, a truncated
JPEG and a 12-megapixel photo leave it alive, its memory bounded (/proc, from outside)."""

from __future__ import annotations

from typing import Any

from tests.previews.images import encoded, jpeg_oriented, png_claiming, quadrants
from tests.test_serving import Served

MiB = 1024 * 1024


def test_limits_and_a_large_photo_leave_the_server_alive_and_small(serve_factory: Any) -> None:
    served: Served = serve_factory()
    photo = encoded(quadrants((4000, 3000)), "JPEG", quality=90)
    assert len(photo) < 4 * MiB
    with served.client() as client:
        def preview_of(data: bytes, content_type: str, **query: Any) -> Any:
            made = client.post("/v1/buckets/photos/files",
                               files={"file": (f"f{len(data)}", data, content_type)})
            assert made.status_code == 201, made.text
            return client.get(f"/v1/files/{made.json()['id']}/preview", params=query,
                              follow_redirects=False)

        before = served.peak_rss_mib()
        bomb = preview_of(png_claiming(30_000, 30_000), "image/png", width=256)
        assert bomb.status_code == 413 and bomb.json()["error"]["code"] == "payload_too_large"
        cut = preview_of(jpeg_oriented(1, (1200, 900))[:5000], "image/jpeg", width=256)
        assert cut.status_code == 415, cut.text
        large = preview_of(photo, "image/jpeg", width=256, height=256)
        assert large.status_code == 302, large.text
        fetched = client.get(large.headers["location"])
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/webp"
        assert client.get("/health").status_code == 200
        # Decoded at 1/8 scale: the 12-megapixel photo (36 MB as RGB) never is in memory.
        assert served.peak_rss_mib() - before < 30
