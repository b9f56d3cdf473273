"""`python -m bench.hotpaths [--baseline REF] [--seconds S] [--rounds N] [--profile OP]`: the
per-request cost of the operations issue 26 measured against a peer, on `cloudnexus serve`
with PostgreSQL metadata and the local-file backend, from an httpx async client on loopback.

- upload: a 1 KiB direct upload (`POST /v1/buckets/{b}/files`, multipart), 1 and 16 clients;
- list: a page of 100 of 1,000 files (`GET /v1/buckets/{b}/files?limit=100`), 1 client;
- get: a 1 MiB object through the local backend's presigned GET URL, 16 clients;
- download: a 1 KiB file as clients download it (`GET /v1/files/{id}/content`, then the
  presigned URL it answers), 16 clients; reported, not a target (`--only download`).

With `--baseline REF` (a commit) a second server runs that commit's `src/` (exported with `git
archive`, put first on its PYTHONPATH) beside this tree's, on the same database and machine,
and every operation is taken on both in turns: with one client a request to each in turn
(its req/s is then 1 / the median latency), with 16 a window of `--seconds` each, A, B, A,
B... Each row is this tree's figure over the baseline's (medians over the rounds), with the
target issue 26 set. `--profile OP` records this tree's server
with py-spy while OP runs and prints the top frames (self and total).
Rows are printed and merged into bench/results.json (`--no-save`: only printed)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import httpx

from bench.report import Row, ratio_row
from bench.scratch import make_tenant, scratch_database
from bench.serve import ROOT, _wait_for_port, free_port, loopback_url

SMALL = os.urandom(1024)
LARGE = os.urandom(1024 * 1024)
LISTED = 1000  # files in the listed bucket
# What this tree must do against the baseline (issue 26): requests/s at least this many times.
TARGETS = {"upload c=1": 1.5, "upload c=16": 1.5, "list": 1.5, "get c=16": 1.25}


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    base: str
    key: str
    pid: int
    first_file: str = ""  # the 1 MiB file's presigned GET URL
    small_file: str = ""  # the 1 KiB file's id


@contextmanager
def serve(name: str, database_url: str, pythonpath: str | None) -> Iterator[Server]:
    """`cloudnexus serve` on a free port, PostgreSQL metadata, local storage in a fresh folder."""
    tenant = make_tenant(database_url, with_file=False)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"cloudnexus-hot-{name}-") as folder:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("DB_", "S3_", "DATABASE_", "AWS_", "STORAGE_"))}
        env.update(DATABASE_URL=database_url, DATA_DIR=folder, LOG_LEVEL="WARNING",
                   PUBLIC_URL=loopback_url(port), WEBHOOK_DISPATCH="false")
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        log = open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudnexus", "serve", "--port", str(port)],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, process)
            yield Server(name, loopback_url(port), tenant.key, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=15)
            log.close()


@contextmanager
def baseline_source(ref: str) -> Iterator[str]:
    """`ref`'s src/ in a temporary folder (for PYTHONPATH)."""
    archive = subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tempfile.TemporaryDirectory(prefix="cloudnexus-baseline-") as folder:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield str(Path(folder) / "src")


def client(server: Server, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base, timeout=60,
                             headers={"Authorization": f"Bearer {server.key}"},
                             limits=httpx.Limits(max_connections=connections,
                                                 keepalive_expiry=30))


async def prepare(server: Server) -> None:
    """The listed bucket's 1,000 files (real uploads) and the 1 MiB file's presigned URL."""
    async with client(server, 16) as http:
        for name in ("listed", "big"):
            response = await http.post("/v1/buckets", json={"name": name})
            assert response.status_code == 201, response.text

        async def upload(index: int) -> None:
            response = await http.post("/v1/buckets/listed/files",
                                       data={"path": f"d{index % 7}/file-{index:05}.txt",
                                             "metadata": f'{{"n": {index}}}'},
                                       files={"file": ("f.txt", SMALL[:64], "text/plain")})
            assert response.status_code == 201, response.text

        for start in range(0, LISTED, 50):
            await asyncio.gather(*(upload(index) for index in range(start, start + 50)))
        response = await http.post("/v1/buckets/big/files", data={"path": "big.bin"},
                                   files={"file": ("big.bin", LARGE, "application/octet-stream")})
        assert response.status_code == 201, response.text
        file_id = response.json()["id"]
        response = await http.get(f"/v1/files/{file_id}/content")
        assert response.status_code == 302, response.text
        server.first_file = response.headers["location"]
        response = await http.post("/v1/buckets/big/files", data={"path": "small.bin"},
                                   files={"file": ("small.bin", SMALL, "application/octet-stream")})
        assert response.status_code == 201, response.text
        server.small_file = response.json()["id"]


Request = Callable[[httpx.AsyncClient, Server], Awaitable[None]]


async def upload_small(http: httpx.AsyncClient, server: Server) -> None:
    response = await http.post("/v1/buckets/bench/files",
                               data={"path": f"w/{uuid.uuid4().hex}.bin"},
                               files={"file": ("blob.bin", SMALL, "application/octet-stream")})
    assert response.status_code == 201, response.text


async def list_page(http: httpx.AsyncClient, server: Server) -> None:
    response = await http.get("/v1/buckets/listed/files", params={"limit": 100})
    assert response.status_code == 200 and len(response.json()["items"]) == 100, response.text


async def get_large(http: httpx.AsyncClient, server: Server) -> None:
    response = await http.get(server.first_file, headers={"Authorization": ""})
    assert response.status_code == 200 and len(response.content) == len(LARGE), response.text


async def download_small(http: httpx.AsyncClient, server: Server) -> None:
    response = await http.get(f"/v1/files/{server.small_file}/content")
    assert response.status_code == 302, response.text
    response = await http.get(response.headers["location"], headers={"Authorization": ""})
    assert response.status_code == 200 and len(response.content) == len(SMALL), response.text


OPERATIONS: dict[str, tuple[Request, int]] = {
    "upload c=1": (upload_small, 1), "upload c=16": (upload_small, 16),
    "list": (list_page, 1), "get c=16": (get_large, 16), "download c=16": (download_small, 16),
}
REPORTED_ONLY = {"download c=16"}  # not run unless asked for (--only, --profile)
NAMES = {
    "upload c=1": "1 KiB direct upload (serve, PostgreSQL, local), 1 client: req/s",
    "upload c=16": "1 KiB direct upload (serve, PostgreSQL, local), 16 clients: req/s",
    "list": "page of 100 of 1,000 files (serve, PostgreSQL), 1 client: req/s",
    "get c=16": "1 MiB presigned GET, local backend (serve), 16 clients: req/s",
    "download c=16": "1 KiB download (content, then its URL; serve, local), 16 clients: req/s",
}


# The frames listed by total: this package's, and the web stack's around it.
PROFILED = re.compile(r"cloudnexus/|fastapi/|starlette/|uvicorn/|pydantic/")
Figure = tuple[float, float, float]  # req/s, median latency (ms), server CPU ms per request


async def measure(server: Server, operation: str, seconds: float) -> Figure:
    """Requests per second, median latency (ms) and the server's CPU time per request (ms)
    of `operation` for `seconds`."""
    request, connections = OPERATIONS[operation]
    latencies: list[float] = []
    async with client(server, connections) as http:
        await asyncio.gather(*(request(http, server) for _ in range(connections * 2)))  # warm

        async def worker(deadline: float) -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await request(http, server)
                latencies.append(time.perf_counter() - started)

        started, cpu = time.monotonic(), cpu_seconds(server.pid)
        await asyncio.gather(*(worker(started + seconds) for _ in range(connections)))
        elapsed, cpu = time.monotonic() - started, cpu_seconds(server.pid) - cpu
    return (len(latencies) / elapsed, statistics.median(latencies) * 1000,
            cpu * 1000 / len(latencies))


async def measure_pair(servers: list[Server], operation: str,
                       seconds: float) -> list[Figure]:
    """For one client: a request to each server in turn for `seconds` (so that a burst of the
    machine's noise falls on both); for each, the requests per second its median latency
    allows, that median (ms), and its CPU time per request (ms)."""
    request, connections = OPERATIONS[operation]
    assert connections == 1
    latencies: list[list[float]] = [[] for _ in servers]
    clients = [client(server, 1) for server in servers]
    try:
        for http, server in zip(clients, servers, strict=True):
            for _ in range(3):
                await request(http, server)  # warm
        deadline = time.monotonic() + seconds
        cpu = [cpu_seconds(server.pid) for server in servers]
        while time.monotonic() < deadline:
            for http, server, timed in zip(clients, servers, latencies, strict=True):
                started = time.perf_counter()
                await request(http, server)
                timed.append(time.perf_counter() - started)
        cpu = [cpu_seconds(server.pid) - before for server, before in zip(servers, cpu,
                                                                          strict=True)]
    finally:
        for http in clients:
            await http.aclose()
    return [(1 / statistics.median(timed), statistics.median(timed) * 1000,
             used * 1000 / len(timed)) for timed, used in zip(latencies, cpu, strict=True)]


def profile(server: Server, operation: str, seconds: float, *, gil: bool, top: int = 30) -> None:
    """py-spy on the server while `operation` runs; the hottest frames, self and total (with
    `gil`, only samples of the thread holding the GIL: where the CPU goes, not the waits)."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as out:
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record",
                                "--pid", str(server.pid), "--format", "raw", "--rate", "250",
                                "--duration", str(int(seconds)), "--output", out.name,
                                "--nonblocking", *(["--gil"] if gil else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rps, p50, _ = asyncio.run(measure(server, operation, seconds))
        spy.wait(timeout=60)
        own: Counter[str] = Counter()
        total: Counter[str] = Counter()
        samples = 0
        for line in Path(out.name).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            weight = int(count)
            samples += weight
            own[frames[-1]] += weight
            for frame in set(frames):
                total[frame] += weight
    print(f"{operation}: {rps:.1f} req/s, p50 {p50:.2f} ms; {samples} samples")
    for title, counter in (("self", own), ("total", total)):
        print(f"-- {title}")
        ranked = [(frame, count) for frame, count in counter.most_common()
                  if title == "self" or PROFILED.search(frame)][:top]
        for frame, count in ranked:
            print(f"{100 * count / max(samples, 1):5.1f}%  {frame}")


def run(baseline: str | None, seconds: float, rounds: int, operations: list[str]) -> list[Row]:
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database())
        servers = [stack.enter_context(serve("this", url, None))]
        if baseline:
            source = stack.enter_context(baseline_source(baseline))
            servers.append(stack.enter_context(serve(baseline[:12], url, source)))
        for server in servers:
            asyncio.run(prepare(server))
        figures: dict[tuple[str, str], list[Figure]] = {}
        for _ in range(rounds):
            for operation in operations:
                paired = OPERATIONS[operation][1] == 1 and len(servers) > 1
                pairs = asyncio.run(measure_pair(servers, operation, seconds)) if paired \
                    else None
                for index, server in enumerate(servers):
                    figure = pairs[index] if pairs else \
                        asyncio.run(measure(server, operation, seconds))
                    figures.setdefault((server.name, operation), []).append(figure)
                    print(f"{server.name:>12} {operation:<12} {figure[0]:8.1f} req/s  "
                          f"p50 {figure[1]:7.2f} ms  cpu {figure[2]:6.2f} ms/req", flush=True)
    rows = []
    for operation in operations:
        ours = [statistics.median(figure[i] for figure in figures[("this", operation)])
                for i in (0, 2)]
        if baseline is None:
            rows.append(Row(NAMES[operation], round(ours[0], 1), "req/s", None, None,
                            "(reported)", True))
            continue
        theirs = [statistics.median(figure[i] for figure in figures[(baseline[:12], operation)])
                  for i in (0, 2)]
        name = f"{NAMES[operation]}, vs {baseline[:7]}"
        rows.append(ratio_row(name, ours[0], theirs[0], "req/s",
                              at_least=TARGETS.get(operation)))
        rows.append(ratio_row(name.replace(": req/s", ": server CPU per request"), ours[1],
                              theirs[1], "ms"))
    return rows


def main() -> None:
    from bench.report import merge, show

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a commit to measure beside this tree")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", action="append", choices=sorted(OPERATIONS),
                        help="these operations only (repeatable)")
    parser.add_argument("--profile", choices=sorted(OPERATIONS))
    parser.add_argument("--gil", action="store_true", help="profile: GIL holders' samples only")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    if args.profile:
        with scratch_database() as url, serve("this", url, None) as server:
            asyncio.run(prepare(server))
            profile(server, args.profile, args.seconds, gil=args.gil)
        return
    rows = run(args.baseline, args.seconds, args.rounds,
               args.only or [name for name in OPERATIONS if name not in REPORTED_ONLY])
    show(rows)
    if args.baseline and not args.no_save:
        merge(rows)


if __name__ == "__main__":
    main()
