"""`python -m bench.load [--clients 50] [--seconds 60] [--database postgresql|embedded|both]`:
mixed work on uvicorn + PostgreSQL + moto, then the same on the embedded default (SQLite and a
local folder, nothing configured), each followed by a check of the books: every completed
upload listed and byte-identical, usage equal to the files, nothing orphaned after
maintenance. Prints both runs' figures side by side; exits non-zero when any of it fails."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from bench.coldstart import environment
from bench.embedded import embedded_database, embedded_environment
from bench.scratch import make_tenant, scratch_database
from bench.serve import free_port, uvicorn

BUCKET = "load"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # completed and not deleted
    deleted: set[str] = field(default_factory=set)  # a 404 for these is another worker's doing


async def _call(client: httpx.AsyncClient, tally: Tally, method: str, url: str,
                expect: int, file_id: str | None = None, **kwargs: object) -> httpx.Response:
    started = time.perf_counter()
    response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
    tally.latencies.append(time.perf_counter() - started)
    raced = response.status_code == 404 and file_id in tally.deleted
    if response.status_code != expect and not raced:
        tally.errors.append(f"{method} {url} -> {response.status_code} {response.text[:200]}")
    return response


async def _upload(client: httpx.AsyncClient, storage: httpx.AsyncClient, tally: Tally) -> None:
    body = os.urandom(random.randint(1, 64 * 1024))
    created = await _call(client, tally, "POST", f"/v1/buckets/{BUCKET}/uploads", 201, json={
        "path": f"load/{os.urandom(8).hex()}.bin", "size": len(body),
        "content_type": "application/octet-stream"})
    if created.status_code != 201:
        return
    upload = created.json()
    put = await storage.put(upload["url"], content=body, headers=upload["headers"])
    if put.status_code != 200:
        tally.errors.append(f"PUT to storage -> {put.status_code}")
        return
    done = await _call(client, tally, "POST", f"/v1/uploads/{upload['id']}/complete", 200)
    if done.status_code == 200:
        tally.files[done.json()["id"]] = body


async def _direct(client: httpx.AsyncClient, tally: Tally) -> None:
    """A direct upload, up to 1.5 MiB: from 1 MiB its part goes on to storage as it arrives."""
    body = os.urandom(random.randint(1, 3 * 1024 * 1024 // 2))
    created = await _call(client, tally, "POST", f"/v1/buckets/{BUCKET}/files", 201,
                          files={"file": ("blob.bin", body, "application/octet-stream")},
                          data={"path": f"direct/{os.urandom(8).hex()}.bin"})
    if created.status_code == 201:
        tally.files[created.json()["id"]] = body


async def _worker(client: httpx.AsyncClient, storage: httpx.AsyncClient, tally: Tally,
                  deadline: float) -> None:
    while time.monotonic() < deadline:
        known = list(tally.files)
        choice = random.random()
        if choice < 0.25 or not known:
            await _upload(client, storage, tally)
        elif choice < 0.35:
            await _direct(client, tally)
        elif choice < 0.5:
            file_id = random.choice(known)
            await _call(client, tally, "GET", f"/v1/files/{file_id}", 200, file_id)
        elif choice < 0.7:
            await _call(client, tally, "GET", f"/v1/buckets/{BUCKET}/files?limit=50", 200)
        elif choice < 0.8:
            file_id = random.choice(known)
            del tally.files[file_id]  # claimed by this worker before the await
            tally.deleted.add(file_id)
            await _call(client, tally, "DELETE", f"/v1/files/{file_id}", 204)
        elif choice < 0.9:
            file_id = random.choice(known)
            await _call(client, tally, "POST", f"/v1/files/{file_id}/links", 201, file_id,
                        json={"expires_in": 600, "max_downloads": 5})
        else:
            file_id = random.choice(known)
            await _call(client, tally, "GET", f"/v1/files/{file_id}/content", 302, file_id)


async def _audit(client: httpx.AsyncClient, storage: httpx.AsyncClient,
                 tally: Tally) -> list[str]:
    """What the run must leave behind; a list of what is wrong (empty when all is well)."""
    problems: list[str] = []
    listed: set[str] = set()
    cursor = ""
    while True:
        response = await client.get(f"/v1/buckets/{BUCKET}/files?limit=1000{cursor}")
        page = response.json()
        if response.status_code != 200:
            return [f"listing failed: {page}"]
        listed |= {item["id"] for item in page["items"]}
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    if listed != set(tally.files):
        problems.append(f"listed {len(listed)} files, expected {len(tally.files)}")
    for file_id, body in tally.files.items():
        redirect = await client.get(f"/v1/files/{file_id}/content")
        if (await storage.get(redirect.headers["location"])).content != body:
            problems.append(f"{file_id} does not read back byte-identical")
    usage = (await client.get(f"/v1/buckets/{BUCKET}")).json()["usage"]
    expected = {"bytes": sum(map(len, tally.files.values())), "files": len(tally.files)}
    if {name: usage[name] for name in expected} != expected:  # (derived bytes: previews')
        problems.append(f"bucket usage {usage}, files add up to {expected}")
    return problems


@dataclass
class Figures:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    files_kept: int

    def line(self) -> str:
        return (f"{self.requests} requests in {self.seconds:.1f} s: "
                f"{self.requests / self.seconds:.0f} req/s, p50 {self.p50_ms:.1f} ms, "
                f"p99 {self.p99_ms:.1f} ms, {self.errors} errors, {self.files_kept} files kept")


async def _run(base: str, key: str, clients: int,
               seconds: float) -> tuple[Tally, Figures, list[str]]:
    tally = Tally()
    headers = {"Authorization": f"Bearer {key}"}
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends: at 5 s on both sides,
    # a request sent as the server closed its connection failed with ReadError (2 runs of 4).
    limits = httpx.Limits(max_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=30) as client, \
            httpx.AsyncClient(limits=limits, timeout=30) as storage:
        await _call(client, tally, "POST", "/v1/buckets", 201, json={"name": BUCKET})
        started = time.monotonic()
        await asyncio.gather(*(_worker(client, storage, tally, started + seconds)
                               for _ in range(clients)))
        elapsed = time.monotonic() - started
        figures = Figures(len(tally.latencies), elapsed,
                          statistics.median(tally.latencies) * 1000,
                          statistics.quantiles(tally.latencies, n=100)[98] * 1000,
                          len(tally.errors), len(tally.files))
        print(figures.line())
        return tally, figures, await _audit(client, storage, tally)


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """os.environ as exactly `env` for a while (the settings read it), then as it was."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _orphans_after_maintenance(env: dict[str, str]) -> list[str]:
    from cloudnexus import maintenance
    from cloudnexus.config import load_settings
    from cloudnexus.runtime import Runtime

    with _environment(env):
        runtime = Runtime(load_settings())
        report = maintenance.run(runtime, orphan_grace=timedelta(0))
        runtime.close()
    print("maintenance:", report.as_dict())
    return [f"maintenance found {report.orphans_removed} orphans and "
            f"{report.missing_marked} records without bytes"] if (
        report.orphans_removed or report.missing_marked) else []


def _load(url: str, env: dict[str, str], clients: int, seconds: float,
          port: int | None = None) -> tuple[Figures, list[str]]:
    key = make_tenant(url, with_file=False).key
    with uvicorn("main:app", env, port) as (base, _):
        tally, figures, problems = asyncio.run(_run(base, key, clients, seconds))
    return figures, tally.errors[:20] + problems + _orphans_after_maintenance(env)


def _on_postgresql(clients: int, seconds: float) -> tuple[Figures, list[str]]:
    from bench.serve import moto_server

    print("PostgreSQL + S3 (moto):")
    with moto_server() as endpoint, scratch_database() as url:
        return _load(url, environment(url, endpoint), clients, seconds)


def _on_embedded_default(clients: int, seconds: float) -> tuple[Figures, list[str]]:
    print("embedded default (SQLite + local folder):")
    with embedded_database() as (folder, url):
        port = free_port()
        return _load(url, embedded_environment(folder, port), clients, seconds, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--database", choices=("postgresql", "embedded", "both"),
                        default="both")
    args = parser.parse_args()
    runs = {"postgresql": _on_postgresql, "embedded": _on_embedded_default}
    chosen = list(runs) if args.database == "both" else [args.database]
    figures: dict[str, Figures] = {}
    problems: list[str] = []
    for name in chosen:
        figures[name], found = runs[name](args.clients, args.seconds)
        problems += [f"{name}: {problem}" for problem in found]
    print(f"{args.clients} clients for {args.seconds:g} s:")
    for name, figure in figures.items():
        print(f"  {name:>10}: {figure.line()}")
    for problem in problems:
        print("PROBLEM:", problem)
    print("load: OK" if not problems else f"load: {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
