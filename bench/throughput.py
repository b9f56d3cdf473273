"""Throughput on uvicorn (one worker) under wrk on loopback: the reference route vs a file read."""

from __future__ import annotations

import re
import shutil
import subprocess

from bench.coldstart import environment
from bench.report import Row, ratio_row
from bench.scratch import make_tenant
from bench.serve import uvicorn

CONNECTIONS = 32


def _unit_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    """Requests per second and latency percentiles (ms); any non-2xx answer is an error."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50": _unit_ms(latency["50"]), "p99": _unit_ms(latency["99"])}


def run(database_url: str, seconds: int) -> list[Row]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is needed for the throughput figures: apt-get install wrk")
    env = environment(database_url)
    tenant = make_tenant(database_url)
    with uvicorn("bench.reference_app:app", env) as (base, _):
        wrk(f"{base}/constant", 2)  # warm-up
        reference = wrk(f"{base}/constant", seconds)
    with uvicorn("main:app", env) as (base, _):
        url, auth = f"{base}/v1/files/{tenant.file_id}", {"Authorization": f"Bearer {tenant.key}"}
        wrk(url, 2, auth)
        ours = wrk(url, seconds, auth)
    name = "uvicorn GET /v1/files/{id} vs constant route"
    return [
        ratio_row(f"{name}: req/s", ours["rps"], reference["rps"], "req/s", at_least=0.35),
        ratio_row(f"{name}: p50", ours["p50"], reference["p50"], "ms"),
        ratio_row(f"{name}: p99", ours["p99"], reference["p99"], "ms"),
    ]


if __name__ == "__main__":
    from bench.report import show
    from bench.scratch import scratch_database

    with scratch_database() as url:
        show(run(url, 10))
