"""One uvicorn worker serving an app in a child process, for load from a second process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORAGE_BUCKET = "cloudnexus-bench"  # the S3 bucket moto_server makes and the app is given


def loopback_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def uvicorn(app: str, env: dict[str, str], port: int | None = None) -> Iterator[tuple[str, int]]:
    """Serve `module:attribute` on loopback (on `port`, else a free one); yields the base URL
    and the server's pid. The server's own log goes to $BENCH_SERVER_LOG when set."""
    port = port or free_port()
    log = open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log)
    try:
        _wait_for_port(port, process)
        yield loopback_url(port), process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


@contextmanager
def moto_server(*, own_process: bool = False, port: int | None = None) -> Iterator[str]:
    """moto's S3 server on loopback (on `port`, else a free one) with the bench bucket;
    yields its endpoint.

    `own_process`: in a child process, as a real store is, so that a reference measured from
    this process (boto3's transfer manager) does not share an interpreter with the store."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = port or free_port()
    endpoint = loopback_url(port)
    child: subprocess.Popen[bytes] | None = None
    server: ThreadedMotoServer | None = None
    if own_process:
        child = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                  "-p", str(port)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    else:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    try:
        _wait_for_port(port, child)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="bench", aws_secret_access_key="bench").create_bucket(
            Bucket=STORAGE_BUCKET)
        yield endpoint
    finally:
        if server is not None:
            server.stop()
        if child is not None:
            child.terminate()
            child.wait(timeout=30)


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None,
                   seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if (process is not None and process.poll() is not None) \
                    or time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port}") from None
            time.sleep(0.1)
