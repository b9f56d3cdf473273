"""Real CloudNexus servers for the clients' tests: uvicorn subprocesses on real ports.

`embedded`: SQLite + a local folder (what `cloudnexus serve` runs with nothing configured).
`s3`: PostgreSQL + moto's S3 server, each behind a TCP proxy a test can cut and restore.
Both with small limits, so each way of uploading is reached with small files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, new_postgres_database
from tests.tcp_proxy import TcpProxy

KiB = 1024
MiB = 1024 * KiB
DIRECT_LIMIT = 64 * KiB
MULTIPART_THRESHOLD = 5 * MiB + 1
PART_SIZE = 16 * MiB  # the server's part size for objects under 156 GiB
CNX = [sys.executable, "-m", "cloudnexus_client.cli"]


@dataclass
class Server:
    """A running server, its admin key and the proxies in front of its dependencies."""

    name: str
    url: str
    key: str
    environment: dict[str, str]
    proxies: dict[str, TcpProxy] = field(default_factory=dict)

    def cnx(self, *args: str, input: bytes | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run `cnx` in a subprocess against this server (no terminal: no progress)."""
        environment = {**os.environ, "CLOUDNEXUS_URL": self.url, "CLOUDNEXUS_KEY": self.key,
                       **(env or {})}
        return subprocess.run([*CNX, *args], input=input, capture_output=True, timeout=timeout,
                              env=environment, check=False)

    def client_env(self, home: Path) -> dict[str, str]:
        return {"XDG_CACHE_HOME": str(home / "cache"), "XDG_CONFIG_HOME": str(home / "config")}


def admin(environment: dict[str, str], *args: str) -> str:
    """Run the server's admin command line (`cloudnexus ...`); its last line of output."""
    result = subprocess.run([sys.executable, "-m", "cloudnexus", *args], env=environment,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip().splitlines()[-1]


def _serve(name: str, environment: dict[str, str], data_dir: Path) -> Iterator[Server]:
    port = free_port()
    environment = {**os.environ, **environment, "DATA_DIR": str(data_dir),
                   "DIRECT_UPLOAD_MAX_BYTES": str(DIRECT_LIMIT),
                   "MULTIPART_THRESHOLD": str(MULTIPART_THRESHOLD), "LOG_LEVEL": "WARNING",
                   "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    if "DATABASE_URL" in environment:
        admin(environment, "migrate")
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudnexus", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped: {process.stderr.read().decode()[-2000:]}"
                                   if process.stderr else "the server stopped")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("the server did not answer /health within 60 s")
        admin(environment, "workspace", "create", "acme")
        key = admin(environment, "key", "create", "--workspace", "acme", "--scope", "admin")
        yield Server(name, url, key, environment)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve("embedded", {}, tmp_path_factory.mktemp("embedded"))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[Server]:
    import boto3

    bucket = f"cnx-clients-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    moto_port = int(moto_endpoint.rsplit(":", 1)[1])
    with new_postgres_database(f"cloudnexus_clients_{uuid.uuid4().hex[:12]}") as database_url, \
            TcpProxy("127.0.0.1", 5432) as database_proxy, \
            TcpProxy("127.0.0.1", moto_port) as storage_proxy:
        proxied_url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{database_proxy.port}")
        environment = {"DATABASE_URL": proxied_url, "S3_BUCKET": bucket,
                       "S3_ENDPOINT_URL": f"http://127.0.0.1:{storage_proxy.port}",
                       "AWS_REGION": "us-east-1"}
        for server in _serve("s3", environment, tmp_path_factory.mktemp("s3")):
            server.proxies = {"database": database_proxy, "storage": storage_proxy}
            yield server


@pytest.fixture(params=["embedded", "s3"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each test once on the embedded default and once on PostgreSQL + S3 (moto)."""
    return request.getfixturevalue(f"{request.param}_server")  # type: ignore[no-any-return]


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clients' cache and config folders redirected into the test's own folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def cx(server: Server, client_home: Path) -> Iterator[Any]:
    from cloudnexus_client import Client

    with Client(server.url, key=server.key) as client:
        yield client


@pytest.fixture
def bucket(cx: Any) -> str:
    name = f"b-{uuid.uuid4().hex[:10]}"
    cx.buckets.create(name)
    return name


def random_bytes(size: int) -> bytes:
    return os.urandom(size)


ProgressLog = Callable[[int, int], None]
