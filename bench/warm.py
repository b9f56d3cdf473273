"""Warm per-request cost, in-process through the Lambda handlers with HTTP API v2 events."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from bench.events import context, v2_event
from bench.report import Row, ratio_row
from bench.scratch import make_tenant


def per_request(handler: Any, event: dict[str, Any], *, runs: int, status: int) -> float:
    """Median seconds of one invocation (after a warm-up), over `runs` invocations."""
    ctx = context()
    for _ in range(20):
        response = handler(event, ctx)
        assert response["statusCode"] == status, response
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        handler(event, ctx)
        timings.append(time.perf_counter() - started)
    return sorted(timings)[len(timings) // 2]


def run(database_url: str, moto_endpoint: str, runs: int) -> list[Row]:
    os.environ.update(DATABASE_URL=database_url, S3_BUCKET="cloudnexus-bench",
                      S3_ENDPOINT_URL=moto_endpoint, AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", LOG_LEVEL="WARNING")
    import main
    from bench import reference_app

    tenant = make_tenant(database_url)
    auth = {"authorization": f"Bearer {tenant.key}"}
    reference = per_request(reference_app.handler, v2_event("GET", "/constant"), runs=runs,
                            status=200)
    upload = json.dumps({"path": "new.bin", "size": 10, "content_type": "text/plain"}).encode()
    cases = [
        ("warm GET /health", v2_event("GET", "/health"), 200, None),
        ("warm GET /v1/files/{id}", v2_event("GET", f"/v1/files/{tenant.file_id}",
                                             headers=auth), 200, 4.0),
        ("warm GET /v1/buckets/{b}/files?limit=100",
         v2_event("GET", "/v1/buckets/bench/files", query="limit=100", headers=auth), 200, None),
    ]
    rows = []
    for name, event, status, target in cases:
        seconds = per_request(main.handler, event, runs=runs, status=status)
        rows.append(ratio_row(name, seconds * 1000, reference * 1000, "ms", at_most=target))
    uploads = []
    for index in range(runs):
        body = upload.replace(b"new.bin", f"new-{index}.bin".encode())
        event = v2_event("POST", "/v1/buckets/bench/uploads", body=body,
                         headers={**auth, "content-type": "application/json"})
        started = time.perf_counter()
        response = main.handler(event, context())
        uploads.append(time.perf_counter() - started)
        assert response["statusCode"] == 201, response
    seconds = sorted(uploads)[len(uploads) // 2]
    rows.append(ratio_row("warm POST /v1/buckets/{b}/uploads", seconds * 1000, reference * 1000,
                          "ms"))
    return rows
