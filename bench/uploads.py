"""Uploads through uvicorn: a 4 MiB direct upload vs the same PUT straight to the storage server,
and the app's peak memory while 20 such uploads run at once (it streams, it does not buffer)."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.coldstart import environment
from bench.report import Row, limit_row, ratio_row
from bench.scratch import make_tenant
from bench.serve import STORAGE_BUCKET, peak_rss_mb, uvicorn

MiB = 1024 * 1024
BODY = os.urandom(4 * MiB)
CONCURRENT = 20


def _direct(client: httpx.Client, base: str, tenant_key: str, bucket: str) -> float:
    started = time.perf_counter()
    response = client.post(f"{base}/v1/buckets/{bucket}/files",
                           headers={"Authorization": f"Bearer {tenant_key}"},
                           files={"file": ("blob.bin", BODY, "application/octet-stream")},
                           data={"path": f"bench/{uuid.uuid4().hex}.bin"})
    response.raise_for_status()
    return time.perf_counter() - started


def _presigner(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def _storage_put(client: httpx.Client, s3: Any) -> float:
    """The same bytes PUT straight to the S3 server (moto), unsigned-payload as a browser would."""
    url = s3.generate_presigned_url("put_object", Params={
        "Bucket": STORAGE_BUCKET, "Key": f"reference/{uuid.uuid4().hex}",
        "ContentType": "application/octet-stream"}, ExpiresIn=300)
    started = time.perf_counter()
    client.put(url, content=BODY,
               headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    return time.perf_counter() - started


def run(database_url: str, s3_endpoint: str, runs: int) -> list[Row]:
    env = environment(database_url, s3_endpoint)
    tenant = make_tenant(database_url)
    s3 = _presigner(s3_endpoint)  # made once: a client per PUT left its garbage in the timings
    with uvicorn("main:app", env) as (base, pid), httpx.Client(timeout=60) as client:
        _direct(client, base, tenant.key, tenant.bucket)
        _storage_put(client, s3)
        # In turns, so a burst of noise on this shared machine falls on both sides.
        pairs = [(_direct(client, base, tenant.key, tenant.bucket),
                  _storage_put(client, s3)) for _ in range(runs)]
        direct = statistics.median(pair[0] for pair in pairs)
        put = statistics.median(pair[1] for pair in pairs)
        with ThreadPoolExecutor(CONCURRENT) as pool:
            list(pool.map(lambda _: _direct(client, base, tenant.key, tenant.bucket),
                          range(CONCURRENT)))
        peak = peak_rss_mb(pid)
    return [
        # At most twice the PUT's time: at least half its speed.
        ratio_row("4 MiB direct upload vs PUT straight to storage", direct, put, "s",
                  at_most=2.0),
        limit_row(f"peak RSS of the app, {CONCURRENT} concurrent 4 MiB direct uploads", peak,
                  "MB", 200),
    ]


if __name__ == "__main__":
    from bench.report import show
    from bench.scratch import scratch_database
    from bench.serve import moto_server

    with moto_server() as endpoint, scratch_database() as url:
        show(run(url, endpoint, 9))
