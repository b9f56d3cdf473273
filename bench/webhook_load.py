"""`python -m bench.webhook_load [--changes N] [--database-url URL]`: N changes (default
10,000) on the embedded default, or on the database given, delivered by the serve loop to a
loopback receiver; prints how many events arrived, lost and repeated. Not in `make test`.

Every change's event must arrive (none lost), and the ids delivered must be exactly those
GET /v1/events lists; a repeat may only be a retry of an answer that failed, with the same
webhook-id (the receiver fails one request in 50 to make some): per id, deliveries = failed
answers + 1. Exits 1 when any of that does not hold."""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.outbox import embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    received: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            with lock:
                received[self.headers["webhook-id"]] += 1
                fail = sum(received.values()) % 50 == 0
                if fail:
                    failed[self.headers["webhook-id"]] += 1
            self.send_response(500 if fail else 204)
            self.end_headers()
            if not fail:
                with lock:
                    answered[self.headers["webhook-id"]] += 1

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    extra = {"database_url": args.database_url} if args.database_url else {}
    with tempfile.TemporaryDirectory() as data_dir, embedded(
            Path(data_dir), webhook_dispatch=True, webhook_allow_http=True,
            webhook_allow_private=True, **extra) as (client, auth):
        client.post("/v1/webhooks", json={"url": url}, headers=auth)
        client.post("/v1/buckets", json={"name": "load"}, headers=auth)
        started = time.perf_counter()
        for n in range(args.changes - 1):
            response = client.patch("/v1/buckets/load", json={"max_file_size": n + 1},
                                    headers=auth)
            assert response.status_code == 200, response.text
        written = time.perf_counter() - started
        deadline = time.monotonic() + 600
        while len(answered) < args.changes and time.monotonic() < deadline:
            time.sleep(0.5)
        total = time.perf_counter() - started
        listed = _event_ids(client, auth)
    server.shutdown()
    repeats = sum(count - 1 for count in received.values())
    unexplained = sum(received[id_] - 1 - failed[id_] for id_ in received)
    lost = args.changes - len(answered)
    print(f"changes {args.changes} written in {written:.1f} s; delivered {len(answered)} "
          f"distinct events in {total:.1f} s; lost {lost}; repeated deliveries {repeats}, "
          f"failed answers {sum(failed.values())}, repeats not explained by a failed answer "
          f"{unexplained}; delivered ids == GET /v1/events ids: {set(answered) == listed} "
          f"({len(listed)} listed)")
    if lost or unexplained or set(answered) != listed or len(listed) != args.changes:
        sys.exit(1)


def _event_ids(client: Any, auth: dict[str, str]) -> set[str]:
    """Every event id GET /v1/events lists, following its cursor."""
    ids: set[str] = set()
    cursor = None
    while True:
        params = {"limit": 1000, **({"after": cursor} if cursor else {})}
        page = client.get("/v1/events", params=params, headers=auth).json()
        ids |= {event["id"] for event in page["items"]}
        if not page["items"]:
            return ids
        cursor = page["next_cursor"]


if __name__ == "__main__":
    main()
