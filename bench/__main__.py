"""`python -m bench [--quick]`: every figure beside its reference; table and bench/results.json.

Needs PostgreSQL at 127.0.0.1:5432 (it makes and drops its own database) and wrk (the load
generator: `apt-get install wrk`); starts moto's S3 server and uvicorn on loopback. The full
run seeds a million files; --quick seeds 100,000 and takes fewer samples, for trying.
"""

from __future__ import annotations

import argparse
import time

from bench import coldstart, embedded, listing, package, previews, throughput, uploads, warm
from bench.report import Row, save, show
from bench.scratch import scratch_database
from bench.serve import moto_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs, large, seconds = (5, 100_000, 5) if args.quick else (11, 1_000_000, 20)
    started = time.perf_counter()
    rows: list[Row] = []
    with moto_server() as endpoint, scratch_database() as url:
        cold, imports = coldstart.run(url, runs)
        rows += cold
        rows += warm.run(url, endpoint, runs * 20)
        rows += throughput.run(url, seconds)
        rows += uploads.run(url, endpoint, runs)
        rows += previews.run(url, endpoint, runs)
        rows += embedded.run(url, seconds)
        rows += listing.run(url, large=large, runs=runs * 2)
    rows += package.run()
    show(rows)
    save(rows)
    print("top imports of `import main` (ms, cumulative):",
          ", ".join(f"{name} {ms:.0f}" for name, ms in imports))
    print(f"wrote bench/results.json in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
