"""`python -m bench.clients [--quick]`: the Python clients beside their references.

- `cnx cp` of a 1 GiB file to the S3-server shape (uvicorn + PostgreSQL + moto) against
  boto3's own `upload_file` of the same file to the same moto server (ratio of throughputs),
  boto3 asking the store for what the server asks it for (no checksum algorithm); and, only
  reported, against boto3 at its default (a CRC32 of each part);
- the peak RSS of that `cnx` process;
- `import cloudnexus_client` in a fresh interpreter;
- `cnx cp -r` of 1,000 small files against the same through the SDK in one process with the
  same parallelism (ratio of files per second).

Needs PostgreSQL at 127.0.0.1:5432; starts moto (in a process of its own, as a real store is)
and uvicorn on loopback. The large file goes twelve times in turns (cnx, boto3, boto3 at its
default), each turn in another of the six orders (each order twice), each upload to a fresh
moto on the same port; the small files three times; medians.

Why two references: a multipart upload created without a checksum algorithm (the server's, as
its part URLs are presigned for clients that send no per-part checksum) gets a whole-object
checksum from the store. S3 computes it on its side; moto reads each part a second time,
copies the object twice more and runs a CRC over all of it, in its one interpreter, which
boto3's default (a composite CRC32 upload: each part's CRC32 computed by boto3) never makes it
do. The target's reference asks the store for the same work as cnx's server does.

Merges its rows into bench/results.json (other rows kept).
--quick: 64 MiB and 200 files once, nothing saved.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.coldstart import environment
from bench.report import Row, limit_row, merge, ratio_row, show
from bench.scratch import make_tenant, scratch_database
from bench.serve import (
    STORAGE_BUCKET,
    free_port,
    loopback_url,
    moto_server,
    peak_rss_mb,
    uvicorn,
)

MiB = 1024 * 1024
PARALLEL = 4  # cnx's default --parallel and the SDK's default concurrency
CNX = [sys.executable, "-m", "cloudnexus_client.cli"]


def _big_file(folder: Path, size: int, name: str = "big.bin") -> Path:
    path = folder / name
    with path.open("wb") as out:
        for _ in range(size // (16 * MiB)):
            out.write(os.urandom(16 * MiB))
        out.write(os.urandom(size % (16 * MiB)))
    return path


def _run_cnx(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and standard output of one `cnx` run.

    The peak is the child's own VmHWM, sampled while it runs: getrusage's ru_maxrss of a
    child keeps the high-water mark of this (large: moto's objects) process it forked from.
    """
    started = time.perf_counter()
    process = subprocess.Popen([*CNX, *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    peaks = [0.0]
    sampler = threading.Thread(target=_sample_peak, args=(process, peaks), daemon=True)
    sampler.start()
    stdout, stderr = process.communicate(timeout=1800)
    elapsed = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"cnx {' '.join(args)} failed: {stderr.decode()[-2000:]}")
    return elapsed, peaks[0], stdout.decode()


def _sample_peak(process: subprocess.Popen[bytes], peaks: list[float]) -> None:
    while process.poll() is None:
        with contextlib.suppress(OSError, RuntimeError):
            peaks[0] = max(peaks[0], peak_rss_mb(process.pid))
        time.sleep(0.02)


def _s3(endpoint: str, *, checksums: str = "when_supported") -> Any:
    """A boto3 client of moto; `checksums` its request_checksum_calculation."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(request_checksum_calculation=checksums))


@dataclass(frozen=True)
class LargeUpload:
    """Median MB/s of cnx, of boto3 asking for no checksum, of boto3 at its default; and
    cnx's highest peak RSS (MB)."""

    cnx: float
    boto3: float
    boto3_default: float
    peak: float


def _large_upload(env: dict[str, str], store_port: int, source: Path,
                  runs: int) -> LargeUpload:
    """The large file by cnx and by boto3 twice, in turns, each turn in another order, each
    upload to a store of its own."""
    from cloudnexus_client.transfer import PARALLEL_PARTS_FROM  # the smallest multipart upload

    size_mb = source.stat().st_size / 1e6
    endpoint = loopback_url(store_port)
    references = {"plain": _s3(endpoint, checksums="when_required"), "default": _s3(endpoint)}
    # boto3 is imported and its clients made before the first turn: so are the server's (its
    # first multipart upload imports boto3 and makes its clients), before cnx's first turn.
    warm = _big_file(source.parent, PARALLEL_PARTS_FROM, "warm.bin")
    with moto_server(own_process=True, port=store_port):
        _run_cnx(["cp", str(warm), "cnx://bench/warm.bin", "--no-progress"], env)
    warm.unlink()
    peaks: list[float] = []

    def by_cnx(run: int) -> float:
        elapsed, peak, _ = _run_cnx(["cp", str(source), f"cnx://bench/big-{run}.bin",
                                     "--no-progress", "--json"], env)
        peaks.append(peak)
        return elapsed

    def by_boto3(name: str) -> Callable[[int], float]:
        def upload(run: int) -> float:
            started = time.perf_counter()
            references[name].upload_file(str(source), STORAGE_BUCKET, f"reference/{name}-{run}")
            return time.perf_counter() - started
        return upload

    contenders = {"cnx": by_cnx, "plain": by_boto3("plain"), "default": by_boto3("default")}
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    # Whoever goes right after another gigabyte pays for what moto and the kernel are still
    # giving back of it: each upload goes to a fresh moto on the same port (the server's
    # endpoint) from a synced disk, and each turn takes the next order of the six, so that
    # each contender goes at each place and after each other as often.
    orders = list(itertools.permutations(contenders))
    for run in range(runs):
        order = orders[run % len(orders)]
        for name in order:
            with moto_server(own_process=True, port=store_port):
                os.sync()
                rates[name].append(size_mb / contenders[name](run))
        print(f"turn {run + 1}: " + ", ".join(f"{name} {rates[name][-1]:.1f} MB/s"
                                               for name in order)
              + f" (load {os.getloadavg()[0]:.1f})", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return LargeUpload(medians["cnx"], medians["plain"], medians["default"], max(peaks))


def _import_seconds(runs: int) -> float:
    code = ("import time; started = time.perf_counter(); import cloudnexus_client; "
            "print(time.perf_counter() - started)")
    timings = [float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, check=True).stdout) for _ in range(runs)]
    return statistics.median(timings)


def _small_files(folder: Path, count: int) -> Path:
    root = folder / "small"
    for index in range(count):
        path = root / f"d{index % 10}" / f"f{index}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1024))
    return root


def _many_files(env: dict[str, str], base: str, key: str, root: Path,
                runs: int) -> tuple[float, float]:
    """Median files per second of `cnx cp -r` and of the SDK in one process, in turns."""
    from cloudnexus_client import Client

    files = sorted(path for path in root.rglob("*") if path.is_file())
    cnx_rates, sdk_rates = [], []
    for _ in range(runs):
        prefix = uuid.uuid4().hex[:8]
        elapsed, _, stdout = _run_cnx(["cp", "-r", str(root), f"cnx://bench/{prefix}/",
                                       "--parallel", str(PARALLEL), "--json"], env)
        if json.loads(stdout.splitlines()[-1])["uploaded"] != len(files):
            raise RuntimeError("cnx cp -r did not upload every file")
        cnx_rates.append(len(files) / elapsed)
        prefix = uuid.uuid4().hex[:8]
        started = time.perf_counter()
        with Client(base, key=key, concurrency=PARALLEL) as cx, \
                ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(lambda path, under=prefix: cx.files.upload(
                "bench", f"{under}/{path.relative_to(root).as_posix()}", path,
                overwrite=True), files))
        sdk_rates.append(len(files) / (time.perf_counter() - started))
    return statistics.median(cnx_rates), statistics.median(sdk_rates)


def run(*, size: int, count: int, runs: int, large_runs: int) -> list[Row]:
    store_port = free_port()
    with scratch_database() as url, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        tenant = make_tenant(url, with_file=False)
        server_env = environment(url, loopback_url(store_port))
        with uvicorn("main:app", server_env) as (base, _):
            client_env = {**os.environ, "CLOUDNEXUS_URL": base, "CLOUDNEXUS_KEY": tenant.key,
                          "XDG_CACHE_HOME": str(folder / "cache")}
            source = _big_file(folder, size)
            large = _large_upload(client_env, store_port, source, large_runs)
            source.unlink()
            with moto_server(own_process=True, port=store_port):
                cnx_files, sdk_files = _many_files(client_env, base, tenant.key,
                                                   _small_files(folder, count), runs)
    label = f"{size // MiB} MiB" if size < 1024 * MiB else f"{size // (1024 * MiB)} GiB"
    return [
        ratio_row(f"cnx cp of {label} to S3 (moto) vs boto3 upload_file", large.cnx,
                  large.boto3, "MB/s", at_least=0.8),
        ratio_row(f"cnx cp of {label} to S3 (moto) vs boto3 upload_file, CRC32 parts (its default)",
                  large.cnx, large.boto3_default, "MB/s"),
        limit_row(f"peak RSS of cnx cp of {label}", large.peak, "MB", 100),
        limit_row("import cloudnexus_client", _import_seconds(7), "s", 0.3),
        ratio_row(f"cnx cp -r of {count:,} small files vs the SDK in one process", cnx_files,
                  sdk_files, "files/s", at_least=0.8),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--size-mib", type=int, default=1024, help="The large file's size.")
    args = parser.parse_args()
    size, count, runs, large_runs = (64 * MiB, 200, 1, 1) if args.quick \
        else (args.size_mib * MiB, 1000, 3, 12)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    rows = run(size=size, count=count, runs=runs, large_runs=large_runs)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    show(rows)
    if not args.quick:
        merge(rows)
        print("merged into bench/results.json")


if __name__ == "__main__":
    main()
