"""Previews and sniffing, in-process through the Lambda handler (PostgreSQL, moto's S3):

- the first preview of a 12-megapixel JPEG at 256 px, in a fresh process: its time beside
  Pillow decoding the whole photo and resizing it (the reference), and the process's peak RSS;
- a cached preview (only signed) beside a warm GET /v1/files/{id}, in turns;
- a warm direct upload with sniffing beside the same upload with sniffing switched off, in turns.

`python -m bench.previews` runs these alone and merges their rows into bench/results.json.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.coldstart import environment
from bench.events import context, v2_event
from bench.report import Row, limit_row, merge, ratio_row, show
from bench.scratch import make_tenant
from bench.warm import per_request

PHOTO_SIZE = (4000, 3000)  # 12 megapixels
FIRST_SECONDS, FIRST_PEAK_MIB = 1.5, 300
PREVIEW_QUERY = "width=256&height=256"


def photo(size: tuple[int, int] = PHOTO_SIZE) -> bytes:
    """A photo-like JPEG: a colour gradient under grain, so it compresses as photos do."""
    from PIL import Image

    small = Image.linear_gradient("L").resize(size)
    grain = Image.effect_noise(size, 24)
    image = Image.merge("RGB", (small, grain, small.transpose(Image.Transpose.ROTATE_180)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _store(url: str, data: bytes, count: int) -> tuple[Any, list[str]]:
    """A tenant with `count` files holding `data` (stored straight, recorded as uploads are)."""
    from sqlalchemy import select

    from cloudnexus.auth.models import ApiKey
    from cloudnexus.buckets.models import Bucket
    from cloudnexus.config import load_settings
    from cloudnexus.db.engine import create_db_engine, create_session_factory
    from cloudnexus.files import service as files
    from cloudnexus.storage import create_storage

    tenant = make_tenant(url, with_file=False)
    settings = load_settings()
    storage, engine = create_storage(settings), create_db_engine(settings)
    ids = []
    with create_session_factory(engine)() as db:
        key_id = uuid.UUID(hex=tenant.key.split("_")[1])  # cnx_<key id>_<secret>
        bucket = db.scalars(select(Bucket).join(
            ApiKey, ApiKey.workspace_id == Bucket.workspace_id).where(
            ApiKey.id == key_id, Bucket.name == tenant.bucket)).one()
        for index in range(count):
            file_id = uuid.uuid4()
            key = files.new_object_key(bucket, file_id)
            storage.put(key, io.BytesIO(data), content_type="image/jpeg")
            files.record(db, storage, files.NewFile(
                bucket=bucket, file_id=file_id, path=f"photo-{index}.jpg", size=len(data),
                content_type="image/jpeg", sha256=None, metadata={}, tags=[], storage_key=key,
                overwrite=False, created_by=None))
            db.commit()
            ids.append(str(file_id))
    engine.dispose()
    return tenant, ids


def _naive(data: bytes) -> None:
    """The reference: decode the whole photo, resize, encode (what a preview without
    Image.draft costs)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        ImageOps.fit(image, (256, 256)).save(io.BytesIO(), "WEBP", quality=80)


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def child(url: str, runs: int) -> dict[str, Any]:
    """In a fresh process: the first preview of each of `runs` photos, beside the reference
    (in turns); the peak RSS after the first preview, before any reference ran."""
    data = photo()
    tenant, ids = _store(url, data, runs)
    import main

    auth = {"authorization": f"Bearer {tenant.key}"}
    ours, reference, peak = [], [], 0.0
    for index, file_id in enumerate(ids):
        event = v2_event("GET", f"/v1/files/{file_id}/preview", query=PREVIEW_QUERY,
                         headers=auth)
        started = time.perf_counter()
        response = main.handler(event, context())
        ours.append(time.perf_counter() - started)
        assert response["statusCode"] == 302, response
        if index == 0:
            peak = _peak_mib()
        started = time.perf_counter()
        _naive(data)
        reference.append(time.perf_counter() - started)
    return {"ours": ours, "reference": reference, "peak_mib": peak, "bytes": len(data)}


def first_preview_rows(url: str, endpoint: str, runs: int) -> list[Row]:
    output = subprocess.run([sys.executable, "-m", "bench.previews", "--child", url, str(runs)],
                            env=environment(url, endpoint), capture_output=True, text=True,
                            check=True, timeout=600).stdout
    result = json.loads(output.strip().splitlines()[-1])
    first = result["ours"][0]  # the process's very first: Pillow imported then
    median, reference = statistics.median(result["ours"]), statistics.median(result["reference"])
    name = f"first preview of a 12 MP JPEG ({result['bytes'] // 1024} KiB) at 256 px"
    return [
        Row(f"{name}: median", round(median, 3), "s", round(reference, 3),
            round(median / reference, 3), f"<= {FIRST_SECONDS} s", median <= FIRST_SECONDS),
        limit_row(f"{name}: the process's first", first, "s", FIRST_SECONDS),
        limit_row(f"{name}: peak RSS of the process", result["peak_mib"], "MiB", FIRST_PEAK_MIB),
    ]


def cached_row(url: str, runs: int) -> Row:
    import main

    tenant, [file_id] = _store(url, photo((1200, 900)), 1)
    auth = {"authorization": f"Bearer {tenant.key}"}
    preview = v2_event("GET", f"/v1/files/{file_id}/preview", query=PREVIEW_QUERY, headers=auth)
    record = v2_event("GET", f"/v1/files/{file_id}", headers=auth)
    seconds, reference = per_request(main.handler, preview, runs=runs, status=302,
                                     reference=(main.handler, record))
    return ratio_row("warm cached GET /v1/files/{id}/preview vs warm GET /v1/files/{id}",
                     seconds * 1000, reference * 1000, "ms", at_most=2.0)


def sniffing_row(url: str, runs: int) -> Row:
    """A direct upload of a 200 KB JPEG, with and without sniffing, in turns."""
    import httpx

    import main
    from cloudnexus.files import service
    from cloudnexus.previews.sniffing import Sniffed

    tenant = make_tenant(url, with_file=False)
    data = photo((640, 480))
    sniffing = service.sniff_body

    def upload(index: int) -> float:
        request = httpx.Request("POST", "http://x/", files={
            "file": (f"up-{index}.jpg", data, "image/jpeg")})
        event = v2_event("POST", f"/v1/buckets/{tenant.bucket}/files", body=request.read(),
                         headers={"authorization": f"Bearer {tenant.key}",
                                  "content-type": request.headers["content-type"]})
        started = time.perf_counter()
        response = main.handler(event, context())
        elapsed = time.perf_counter() - started
        assert response["statusCode"] == 201, response
        return elapsed

    timings: tuple[list[float], list[float]] = ([], [])
    for index in range(runs + 10):
        for turn, sniff in enumerate((sniffing, lambda body: Sniffed(None, None))):
            service.sniff_body = sniff  # type: ignore[assignment]
            elapsed = upload(index * 2 + turn)
            if index >= 10:  # the first turns warm both up
                timings[turn].append(elapsed)
    service.sniff_body = sniffing
    ours, reference = (statistics.median(values) for values in timings)
    return ratio_row("warm direct upload (200 KB JPEG): with sniffing vs without",
                     ours * 1000, reference * 1000, "ms", at_most=1.1)


def run(url: str, endpoint: str, runs: int) -> list[Row]:
    rows = first_preview_rows(url, endpoint, max(3, runs))
    os.environ.update(environment(url, endpoint))
    rows.append(cached_row(url, runs * 20))
    rows.append(sniffing_row(url, runs * 10))
    return rows


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
        return
    from bench.scratch import scratch_database
    from bench.serve import moto_server

    with moto_server() as endpoint, scratch_database() as url:
        rows = run(url, endpoint, 11)
    show(rows)
    merge(rows)


if __name__ == "__main__":
    main()
