"""`python -m bench.embedded [--seconds 15]`: write throughput of the embedded default (SQLite)
beside PostgreSQL's in the same run: 16 clients sending small direct uploads to distinct paths
through uvicorn, the same local storage folder behind both, so only the database differs.
Prints the rows and merges them into bench/results.json (`make bench` runs it too)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.report import Row, ratio_row
from bench.scratch import make_tenant
from bench.serve import free_port, loopback_url, uvicorn

CLIENTS = 16
BODY = os.urandom(1024)


def embedded_environment(data_dir: Path, port: int) -> dict[str, str]:
    """The app's environment with nothing configured but where its folder is and where it is
    served (the local backend's presigned URLs point there): SQLite and local storage."""
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("DB_", "S3_", "DATABASE_", "AWS_"))}
    return {**base, "LOG_LEVEL": "WARNING", "DATA_DIR": str(data_dir),
            "PUBLIC_URL": loopback_url(port)}


@contextmanager
def embedded_database() -> Iterator[tuple[Path, str]]:
    """A fresh data folder with its SQLite database migrated (as `cloudnexus serve` does);
    yields the folder and the database's URL."""
    from cloudnexus.config import load_settings
    from cloudnexus.db.engine import create_db_engine
    from cloudnexus.migrations import upgrade

    with tempfile.TemporaryDirectory(prefix="cloudnexus-embedded-") as folder:
        settings = load_settings(data_dir=Path(folder))
        engine = create_db_engine(settings)
        upgrade(engine)
        engine.dispose()
        yield Path(folder), settings.sqlalchemy_url()


async def _writes(base: str, key: str, bucket: str, seconds: float) -> dict[str, float]:
    """CLIENTS clients uploading for `seconds`: uploads per second and latency percentiles
    (ms); any answer but 201 is an error."""
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=CLIENTS, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"},
                                 limits=limits, timeout=30) as client:
        async def upload() -> None:
            started = time.perf_counter()
            response = await client.post(
                f"/v1/buckets/{bucket}/files", data={"path": f"w/{os.urandom(8).hex()}.bin"},
                files={"file": ("blob.bin", BODY, "application/octet-stream")})
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                errors.append(f"{response.status_code} {response.text[:200]}")

        async def worker(deadline: float) -> None:
            while time.monotonic() < deadline:
                await upload()

        await asyncio.gather(*(upload() for _ in range(CLIENTS)))  # warm-up
        latencies.clear()
        started = time.monotonic()
        await asyncio.gather(*(worker(started + seconds) for _ in range(CLIENTS)))
        elapsed = time.monotonic() - started
    if errors:
        raise RuntimeError(f"{len(errors)} uploads failed, e.g. {errors[0]}")
    return {"rps": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": statistics.quantiles(latencies, n=100)[98] * 1000}


def _measure(url: str, env: dict[str, str], port: int, seconds: float) -> dict[str, float]:
    tenant = make_tenant(url, with_file=False)
    with uvicorn("main:app", env, port) as (base, _):
        return asyncio.run(_writes(base, tenant.key, tenant.bucket, seconds))


def run(postgres_url: str, seconds: float) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="cloudnexus-pg-local-") as folder:
        port = free_port()
        # PostgreSQL with the same local storage folder as the embedded default, so the
        # figures differ by the database alone.
        postgres_env = {**embedded_environment(Path(folder), port),
                        "DATABASE_URL": postgres_url}
        postgres = _measure(postgres_url, postgres_env, port, seconds)
    with embedded_database() as (folder, sqlite_url):
        port = free_port()
        embedded = _measure(sqlite_url, embedded_environment(folder, port), port, seconds)
    name = f"embedded default (SQLite) vs PostgreSQL, {CLIENTS} clients of direct uploads"
    return [
        ratio_row(f"{name}: uploads/s", embedded["rps"], postgres["rps"], "req/s",
                  at_least=0.5),
        ratio_row(f"{name}: p50", embedded["p50"], postgres["p50"], "ms"),
        ratio_row(f"{name}: p99", embedded["p99"], postgres["p99"], "ms"),
    ]


def main() -> None:
    from bench.report import merge, show
    from bench.scratch import scratch_database

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    with scratch_database() as url:
        rows = run(url, args.seconds)
    show(rows)
    merge(rows)


if __name__ == "__main__":
    main()
