"""Warm per-request cost, in-process through the Lambda handlers with HTTP API v2 events:
each route taken in turns with a constant route, its target on the ratio. `python -m
bench.warm` (BENCH_WARM_RUNS=200) merges its rows into bench/results.json."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from bench.coldstart import environment
from bench.events import context, v2_event
from bench.report import Row, ratio_row
from bench.scratch import make_tenant, seed_files

LISTED = 120  # files in the bench bucket: the listing row reads a full page of 100


def seed_beside(database_url: str, file_id: str, *, rows: int) -> None:
    """`rows` more ready files in the bucket of `file_id`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        workspace_id, bucket_id = connection.execute(
            text("SELECT workspace_id, bucket_id FROM files WHERE id = :id"),
            {"id": file_id}).one()
    with Session(engine) as db:
        seed_files(db, workspace_id=workspace_id, bucket_id=bucket_id, rows=rows)
    engine.dispose()


def per_request(handler: Any, event: dict[str, Any] | Callable[[int], dict[str, Any]], *,
                runs: int, status: int,
                reference: tuple[Any, dict[str, Any]]) -> tuple[float, float]:
    """Median seconds of one invocation and of one reference invocation (after a warm-up),
    taken in turns so that both see the same machine. `event` may be a function of the run's
    number, for a route that must not see the same request twice (a new upload's path)."""
    ctx = context()
    make = event if callable(event) else (lambda _: event)
    reference_handler, reference_event = reference
    for index in range(20):
        response = handler(make(-1 - index), ctx)
        assert response["statusCode"] == status, response
        reference_handler(reference_event, ctx)
    timings: tuple[list[float], list[float]] = ([], [])
    for index in range(runs):
        for timed, (call, argument) in zip(timings, ((handler, make(index)),
                                                     (reference_handler, reference_event)),
                                           strict=True):
            started = time.perf_counter()
            response = call(argument, ctx)
            timed.append(time.perf_counter() - started)
            assert response["statusCode"] in (200, status), response
    ours, theirs = (sorted(values)[len(values) // 2] for values in timings)
    return ours, theirs


def run(database_url: str, moto_endpoint: str, runs: int) -> list[Row]:
    # As the Lambda runtime sets it: the app runs as in a container (settings.in_lambda).
    os.environ.update(environment(database_url, moto_endpoint),
                      AWS_LAMBDA_FUNCTION_NAME="cloudnexus-bench")
    import main
    from bench import reference_app

    tenant = make_tenant(database_url)
    seed_beside(database_url, tenant.file_id, rows=LISTED)
    auth = {"authorization": f"Bearer {tenant.key}"}
    constant = (reference_app.handler, v2_event("GET", "/constant"))
    def upload(index: int) -> dict[str, Any]:
        body = json.dumps({"path": f"new-{index}.bin", "size": 10,
                           "content_type": "text/plain"}).encode()
        return v2_event("POST", "/v1/buckets/bench/uploads", body=body,
                        headers={**auth, "content-type": "application/json"})

    # Each at most this many times the constant route (issue 17; docs/performance.md).
    cases: list[tuple[str, dict[str, Any] | Callable[[int], dict[str, Any]], int, float]] = [
        ("warm GET /health", v2_event("GET", "/health"), 200, 4.0),
        ("warm GET /v1/files/{id}", v2_event("GET", f"/v1/files/{tenant.file_id}",
                                             headers=auth), 200, 4.0),
        ("warm GET /v1/buckets/{b}/files?limit=100",
         v2_event("GET", "/v1/buckets/bench/files", query="limit=100", headers=auth), 200, 5.0),
        ("warm POST /v1/buckets/{b}/uploads", upload, 201, 4.0),
    ]
    rows = []
    for name, event, status, target in cases:
        seconds, reference = per_request(main.handler, event, runs=runs, status=status,
                                         reference=constant)
        rows.append(ratio_row(name, seconds * 1000, reference * 1000, "ms", at_most=target))
    rows.append(token_row(main.handler, auth, tenant.file_id, runs))
    return rows


def token_row(handler: Any, auth: dict[str, str], file_id: str, runs: int) -> Row:
    """A warm GET /v1/files/{id} with a delegated (HS256) token against the same with the
    API key, in turns."""
    json_headers = {**auth, "content-type": "application/json"}

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = handler(v2_event("POST", path, body=json.dumps(body).encode(),
                                    headers=json_headers), context())
        assert response["statusCode"] == 201, response
        return json.loads(response["body"])  # type: ignore[no-any-return]

    post("/v1/signing-keys", {"name": "bench", "algorithm": "HS256"})
    token = post("/v1/tokens", {"sub": "bench-user", "expires_in": 3600, "cnx": {
        "buckets": ["bench"], "prefix": "", "ops": ["read"]}})["token"]
    path = f"/v1/files/{file_id}"
    with_token = v2_event("GET", path, headers={"authorization": f"Bearer {token}"})
    seconds, reference = per_request(handler, with_token, runs=runs, status=200,
                                     reference=(handler, v2_event("GET", path, headers=auth)))
    return ratio_row("warm GET /v1/files/{id}: delegated token vs API key", seconds * 1000,
                     reference * 1000, "ms", at_most=1.2)


if __name__ == "__main__":
    from bench.report import merge, show
    from bench.scratch import scratch_database
    from bench.serve import moto_server

    with moto_server() as endpoint, scratch_database() as url:
        rows = run(url, endpoint, int(os.environ.get("BENCH_WARM_RUNS", "200")))
    show(rows)
    merge(rows)
