"""`python -m bench.outbox`: what the outbox costs the write routes, and how soon a webhook
gets an event, on the embedded default (SQLite and a local folder), in one process.

Rows, merged into bench/results.json:
- each warm write route with the outbox against the same route with `outbox.emit` made a
  no-op, measured in alternating rounds (A, B, B, A, ...) in the same run: ratio <= 1.15;
- commit to delivery: from a PATCH's response to its event reaching a loopback receiver,
  delivered by the serve loop (the app's lifespan with WEBHOOK_DISPATCH): p50 < 1 s.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.report import Row, limit_row, merge, ratio_row, show
from cloudnexus.app import create_app
from cloudnexus.config import load_settings
from cloudnexus.events import outbox

ROUNDS, PER_ROUND, DELIVERIES = 6, 40, 40


@contextmanager
def embedded(data_dir: Path, **settings: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from cloudnexus.auth import service as keys
    from cloudnexus.migrations import upgrade
    from cloudnexus.workspaces import service as workspaces

    config = load_settings(data_dir=data_dir, public_url="http://testserver",
                           log_level="WARNING", **settings)
    app = create_app(config)
    upgrade(app.state.runtime.engine)
    with app.state.runtime.session_factory() as db:
        workspace = workspaces.create(db, name="bench")
        _, key = keys.create(db, workspace_id=workspace.id, name="bench", scopes=["admin"],
                             expires_at=None)
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {key}"}
    app.state.runtime.close()


def _writes(client: TestClient, auth: dict[str, str]) -> dict[str, Callable[[int], object]]:
    client.post("/v1/buckets", json={"name": "bench"}, headers=auth)
    file_id = client.post("/v1/buckets/bench/files", headers=auth,
                          files={"file": ("f.txt", b"x" * 100, "text/plain")}).json()["id"]
    return {
        "warm PATCH /v1/files/{id} with the outbox": lambda n: client.patch(
            f"/v1/files/{file_id}", json={"metadata": {"n": n}}, headers=auth),
        "warm POST /v1/buckets/{b}/files (1 KiB) with the outbox": lambda n: client.post(
            "/v1/buckets/bench/files", headers=auth,
            files={"file": (f"{n}.txt", b"y" * 1024, "text/plain")}),
    }


def write_rows(data_dir: Path) -> list[Row]:
    real_emit = outbox.emit
    with embedded(data_dir) as (client, auth):
        writes = _writes(client, auth)
        timings: dict[tuple[str, bool], list[float]] = {}
        counter = 0
        for round_ in range(ROUNDS):
            for with_outbox in ((True, False) if round_ % 2 else (False, True)):
                outbox.emit = real_emit if with_outbox else (  # type: ignore[assignment]
                    lambda *args, **kwargs: None)
                for name, work in writes.items():
                    for _ in range(PER_ROUND):
                        counter += 1
                        started = time.perf_counter()
                        work(counter)
                        timings.setdefault((name, with_outbox), []).append(
                            time.perf_counter() - started)
        outbox.emit = real_emit  # type: ignore[assignment]
    return [ratio_row(name, statistics.median(timings[name, True]) * 1000,
                      statistics.median(timings[name, False]) * 1000, "ms", at_most=1.15)
            for name in writes]


def delivery_row(data_dir: Path) -> Row:
    arrived: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            arrived[self.headers["webhook-id"]] = time.perf_counter()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    lags: list[float] = []
    with embedded(data_dir, webhook_dispatch=True, webhook_allow_http=True,
                  webhook_allow_private=True) as (client, auth):
        client.post("/v1/webhooks", json={"url": url, "events": ["bucket.updated"]},
                    headers=auth)
        client.post("/v1/buckets", json={"name": "lag"}, headers=auth)
        for n in range(DELIVERIES):
            before = set(arrived)
            client.patch("/v1/buckets/lag", json={"max_file_size": n + 1}, headers=auth)
            committed = time.perf_counter()
            while set(arrived) == before and time.perf_counter() - committed < 10:
                time.sleep(0.002)
            new = set(arrived) - before
            lags.append((arrived[new.pop()] if new else time.perf_counter()) - committed)
            time.sleep(0.05)
    server.shutdown()
    return limit_row("commit to webhook delivery, embedded default, p50",
                     statistics.median(lags), "s", 1.0)


def main() -> None:
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        rows = [*write_rows(Path(first)), delivery_row(Path(second))]
    show(rows)
    merge(rows)


if __name__ == "__main__":
    main()
