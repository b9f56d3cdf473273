"""`python -m bench.instructions [--baseline REF] [--uploads N]`: the instructions `cloudnexus
serve` executes per 1 KiB direct upload (PostgreSQL metadata, the local backend), counted by
valgrind's callgrind, for this tree and, with `--baseline`, for a commit's `src/`.

On this shared machine a rate moves 10-20% between runs of the same code, more than most
single changes save. Instructions do not: the same tree gives the same count within 0.6%,
whatever else the machine is doing. Each upload is sent alone (one client), so the count
covers the server's own work (its Python and the libraries' C, not the kernel's) and
nothing of its waiting. The server (bench.peer.targets.cloudnexus_server) runs under
callgrind (about 50 times slower); its count is zeroed after a warm-up and read after N
uploads. Printed only: a figure for trying a change, not a benchmark with a target
(docs/performance.md, "Instructions per upload")."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from aiohttp import ClientSession

from bench.hotpaths import baseline_source
from bench.peer.targets import CloudNexus, cloudnexus_server
from bench.serve import ROOT

WARM_UPLOADS = 30  # before the count starts: imports, prepared statements, caches
START_SECONDS = 300  # for `serve` to listen under valgrind


async def upload(target: CloudNexus, count: int) -> None:
    body = os.urandom(1024)
    async with ClientSession(base_url=target.base, headers=target.headers()) as client:
        for _ in range(count):
            await target.upload(client, f"up/{uuid.uuid4().hex}.bin", body)


def instructions_per_upload(source: Path, uploads: int) -> float:
    """`cloudnexus serve` of `source` (a tree's src/) under callgrind, its count zeroed after
    the warm-up and dumped after `uploads` more."""
    with tempfile.TemporaryDirectory(prefix="cloudnexus-instructions-") as counts, \
            cloudnexus_server(wrapper=["valgrind", "--tool=callgrind",
                                       f"--callgrind-out-file={counts}/callgrind.%p"],
                              source=source, start_seconds=START_SECONDS) as target:
        asyncio.run(upload(target, WARM_UPLOADS))
        subprocess.run(["callgrind_control", "--zero", str(target.pid)], check=True,
                       capture_output=True)
        asyncio.run(upload(target, uploads))
        subprocess.run(["callgrind_control", "--dump", str(target.pid)], check=True,
                       capture_output=True)
        return summary(Path(counts), target.pid) / uploads


def summary(counts: Path, pid: int, seconds: float = 30) -> int:
    """The instructions of the first dump (`callgrind.<pid>.1`), once it is written whole."""
    dump = counts / f"callgrind.{pid}.1"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if dump.exists():
            for line in dump.read_text().splitlines():
                if line.startswith("summary:"):
                    return int(line.split()[1])
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no summary to {dump}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="a commit to count beside this tree")
    parser.add_argument("--uploads", type=int, default=100)
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    with ExitStack() as stack:
        trees = {"this tree": ROOT / "src"}
        if args.baseline:
            trees[args.baseline] = Path(stack.enter_context(baseline_source(args.baseline)))
        counted = {name: instructions_per_upload(source, args.uploads)
                   for name, source in trees.items()}
    for name, count in counted.items():
        print(f"{name:>12}: {count:,.0f} instructions per 1 KiB upload")
    if args.baseline:
        ours, theirs = counted.values()
        print(f"this tree / {args.baseline}: {ours / theirs:.3f}")


if __name__ == "__main__":
    main()
