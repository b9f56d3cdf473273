"""`python -m bench.webhook_load [--changes N] [--database-url URL]`: N changes (default
10,000) on the embedded default, or on the database given, delivered by the serve loop to a
loopback receiver; prints how many events arrived, lost and repeated. Not in `make test`.

Every change's event must arrive (none lost); a repeat may only be a retry, with the same
webhook-id (the receiver fails one request in 50 to make some)."""

from __future__ import annotations

import argparse
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
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            with lock:
                received[self.headers["webhook-id"]] += 1
                fail = sum(received.values()) % 50 == 0
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
    server.shutdown()
    repeats = sum(count - 1 for count in received.values())
    print(f"changes {args.changes} written in {written:.1f} s; delivered {len(answered)} "
          f"distinct events in {total:.1f} s; lost {args.changes - len(answered)}; "
          f"repeated deliveries {repeats} (all retries of a failed answer, same webhook-id)")


if __name__ == "__main__":
    main()
