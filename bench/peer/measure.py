"""Both servers measured in turns through the same operations, and the figures as ratios."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import ClientSession, ClientTimeout, TCPConnector

from bench import report
from bench.peer.peers import PEER_NAME, Peer, memory_mb
from bench.peer.targets import WALK_PREFIX, CloudNexus, Supabase, Target
from bench.report import Row, ratio_row
from cloudnexus.limits import MiB

SIZES = {"1 KiB": 1024, "1 MiB": MiB}
CONCURRENCIES = (1, 16)
WALK_FILES = 1000
DOWNLOAD_FILES = 16  # distinct files a download run reads in turn
SEED_CONCURRENCY = 16
PREFIX = f"vs {PEER_NAME}: "

Operation = Callable[[int], Awaitable[object]]


@dataclass
class Sample:
    """Operations done, the seconds they took in all, each one's latency (s), and the CPU
    seconds the client itself used meanwhile."""

    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0

    def add(self, other: Sample) -> None:
        self.count += other.count
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.client_cpu += other.client_cpu

    @property
    def client_share(self) -> float:
        """The part of one core the client used: near 1, the client set the pace, not the
        server."""
        return self.client_cpu / self.seconds if self.seconds else 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


async def drive(operation: Operation, concurrency: int, seconds: float) -> Sample:
    """`concurrency` workers repeating `operation` (each call given a new number) for
    `seconds`; a worker's last call may end after the deadline and is counted."""
    numbers = itertools.count()
    latencies: list[float] = []

    async def worker(deadline: float) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await operation(next(numbers))
            latencies.append(time.perf_counter() - started)

    started, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
    return Sample(len(latencies), time.monotonic() - started, latencies,
                  time.process_time() - cpu)


def ratio_rows(label: str, unit: str, ours: Sample, theirs: Sample) -> list[Row]:
    """CloudNexus over the peer: the rate at least as high, the median latency at most."""
    return [ratio_row(f"{PREFIX}{label}: {unit}", ours.rate, theirs.rate, unit, at_least=1.0),
            ratio_row(f"{PREFIX}{label}: p50", ours.p50_ms, theirs.p50_ms, "ms", at_most=1.0)]


def memory_rows(ours: int, theirs: int | None) -> list[Row]:
    """Resident memory after the same work (target: at most the peer's); the high-water
    marks only reported, since the peer may have run before this run started."""
    if theirs is None:
        return []
    return [ratio_row(f"{PREFIX}server RSS after the run", memory_mb(ours), memory_mb(theirs),
                      "MiB", at_most=1.0),
            ratio_row(f"{PREFIX}server peak RSS", memory_mb(ours, "VmHWM"),
                      memory_mb(theirs, "VmHWM"), "MiB")]


def operations(target: Target, client: ClientSession,
               stored: dict[str, list[str]]) -> dict[str, tuple[str, Operation]]:
    """Each operation's label, the unit of its rate and the call that does it once."""
    def upload(body: bytes) -> Operation:
        return lambda _: target.upload(client, f"up/{uuid.uuid4().hex}.bin", body)

    def download(label: str, size: int) -> Operation:
        handles = stored[label]
        return lambda n: target.download(client, handles[n % len(handles)], size)

    async def walk(_: int) -> None:
        if (seen := await target.walk(client)) != WALK_FILES:
            raise RuntimeError(f"{target.name} listed {seen} files, not {WALK_FILES}")

    table: dict[str, tuple[str, Operation]] = {}
    for label, size in SIZES.items():
        table[f"upload {label}"] = ("req/s", upload(os.urandom(size)))
    for label, size in SIZES.items():
        table[f"download {label}"] = ("req/s", download(label, size))
    table[f"walk {WALK_FILES:,} files, 100 a page"] = ("walks/s", walk)
    return table


async def seed(target: Target, client: ClientSession) -> dict[str, list[str]]:
    """The files downloads read (DOWNLOAD_FILES of each size) and the WALK_FILES of the walk."""
    stored: dict[str, list[str]] = {}
    for label, size in SIZES.items():
        body = os.urandom(size)
        stored[label] = list(await asyncio.gather(*(
            target.upload(client, f"seed/{label.replace(' ', '')}-{n}.bin", body)
            for n in range(DOWNLOAD_FILES))))
    semaphore = asyncio.Semaphore(SEED_CONCURRENCY)

    async def one(n: int) -> None:
        async with semaphore:
            await target.upload(client, f"{WALK_PREFIX}file-{n:04d}.txt", b"walk")

    await asyncio.gather(*(one(n) for n in range(WALK_FILES)))
    return stored


async def side_by_side(ours: CloudNexus, theirs: Supabase, *, seconds: float, rounds: int,
                       warmup: float, log: Callable[[str], None] = print) -> list[Row]:
    """Every operation at each concurrency: a warm-up on each server, then `rounds` turns of
    `seconds` each, CloudNexus then the peer, then CloudNexus again (A, B, A, B)."""
    targets: list[Target] = [ours, theirs]
    clients = [ClientSession(base_url=t.base, headers=t.headers(),
                             connector=TCPConnector(limit=max(CONCURRENCIES)),
                             timeout=ClientTimeout(total=120)) for t in targets]
    try:
        tables = []
        for target, client in zip(targets, clients, strict=True):
            tables.append(operations(target, client, await seed(target, client)))
        rows: list[Row] = []
        for label, (unit, _) in tables[0].items():
            for concurrency in CONCURRENCIES:
                samples = [Sample(), Sample()]
                for table in tables:
                    await drive(table[label][1], concurrency, warmup)
                for _ in range(rounds):
                    for sample, table in zip(samples, tables, strict=True):
                        sample.add(await drive(table[label][1], concurrency, seconds))
                name = f"{label}, concurrency {concurrency}"
                rows += ratio_rows(name, unit, *samples)
                log(f"{name}: {samples[0].rate:.1f} vs {samples[1].rate:.1f} {unit}, "
                    f"p50 {samples[0].p50_ms:.1f} vs {samples[1].p50_ms:.1f} ms, client CPU "
                    f"{samples[0].client_share:.0%} vs {samples[1].client_share:.0%} of a core")
        return rows
    finally:
        for client in clients:
            await client.close()


def save(rows: list[Row], peer: Peer, *, started: datetime, load: tuple[float, ...]) -> None:
    """Merge the rows into bench/results.json, each with the peer it was measured against."""
    report.merge(rows)
    names = {row.name for row in rows}
    results = json.loads(report.RESULTS.read_text())
    for row in results:
        if row["name"] in names:
            row["peer"] = {**peer.describe(),
                           "measured_at": started.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
                           "load_average": [round(value, 2) for value in load]}
    report.RESULTS.write_text(json.dumps(results, indent=2) + "\n")
