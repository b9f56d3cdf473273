"""The embedded default under concurrency, through a real `cloudnexus serve` (SQLite and a
local folder, nothing configured): bursts of uploads answer promptly with what each one
deserves, never 503, and the counters add up afterwards."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cloudnexus.cli import app as cli
from tests.conftest import free_port

BODY = b"0123456789"
PROMPTLY_SECONDS = 5.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class EmbeddedServer:
    base_url: str
    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "cloudnexus.db"


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """`cloudnexus serve` on a fresh data folder: the embedded default, as a new user runs it."""
    data_dir = tmp_path_factory.mktemp("embedded")
    port = free_port()
    log = (data_dir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudnexus", "serve", "--port", str(port)],
        cwd=ROOT, env={**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"},
        stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(process, port, data_dir)
        yield EmbeddedServer(f"http://127.0.0.1:{port}", data_dir)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_until_serving(process: subprocess.Popen[bytes], port: int, data_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {(data_dir / 'server.log').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("serve did not answer within 60 s")


@dataclass(frozen=True)
class Workspace:
    name: str
    key: str
    bucket: str


@pytest.fixture
def make_workspace(embedded_server: EmbeddedServer,
                   monkeypatch: pytest.MonkeyPatch) -> Callable[..., Workspace]:
    """A new workspace with an admin key (made with the CLI, as the README says) and a bucket."""
    monkeypatch.setenv("DATA_DIR", str(embedded_server.data_dir))
    runner = CliRunner()

    def make(*quota: str) -> Workspace:
        name = f"ws-{uuid.uuid4().hex[:8]}"
        created = runner.invoke(cli, ["workspace", "create", name, *quota])
        assert created.exit_code == 0, created.output
        keyed = runner.invoke(cli, ["key", "create", "--workspace", name, "--scope", "admin"])
        assert keyed.exit_code == 0, keyed.output
        key = keyed.stdout.strip().splitlines()[-1]
        response = httpx.post(f"{embedded_server.base_url}/v1/buckets", json={"name": "burst"},
                              headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 201, response.text
        return Workspace(name, key, "burst")

    return make


def _client(server: EmbeddedServer, workspace: Workspace) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url,
                             headers={"Authorization": f"Bearer {workspace.key}"},
                             limits=httpx.Limits(max_connections=100), timeout=60)


def _statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def _counters(server: EmbeddedServer, workspace: Workspace) -> dict[str, Any]:
    """The workspace's and the bucket's usage as the API shows them, and what the workspace
    holds in reserve for uploads in flight (not shown by the API: read from the file)."""
    headers = {"Authorization": f"Bearer {workspace.key}"}
    shown = httpx.get(f"{server.base_url}/v1/workspace", headers=headers).json()
    bucket = httpx.get(f"{server.base_url}/v1/buckets/{workspace.bucket}", headers=headers).json()
    with sqlite3.connect(server.database) as connection:
        reserved = connection.execute(
            "SELECT reserved_bytes, reserved_files FROM workspaces WHERE name = ?",
            (workspace.name,)).fetchone()
    return {"workspace": shown["usage"], "bucket": bucket["usage"], "reserved": tuple(reserved)}


def _books(files: int, *, reserved: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """What _counters must read once `files` files of BODY are stored."""
    stored = {"bytes": files * len(BODY), "files": files, "derived_bytes": 0}
    return {"workspace": stored, "bucket": stored, "reserved": reserved}


async def _timed(requests: Iterable[Awaitable[httpx.Response]]) -> tuple[list[httpx.Response],
                                                                         float]:
    """The requests at once: their responses, and the seconds until the last one answered."""
    started = time.monotonic()
    responses = list(await asyncio.gather(*requests))
    return responses, time.monotonic() - started


def _direct_upload(client: httpx.AsyncClient, bucket: str,
                   path: str) -> Callable[[], Awaitable[httpx.Response]]:
    return lambda: client.post(f"/v1/buckets/{bucket}/files", data={"path": path},
                               files={"file": ("blob.bin", BODY, "application/octet-stream")})


def test_concurrent_direct_uploads_to_distinct_paths_all_succeed_promptly(
        embedded_server: EmbeddedServer, make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace()

    async def burst() -> tuple[list[httpx.Response], float]:
        async with _client(embedded_server, workspace) as client:
            return await _timed(
                _direct_upload(client, workspace.bucket, f"burst/{index}.bin")()
                for index in range(40))

    responses, seconds = asyncio.run(burst())
    assert _statuses(responses) == {201: 40}, [r.text for r in responses if r.status_code != 201]
    assert seconds < PROMPTLY_SECONDS
    assert _counters(embedded_server, workspace) == _books(40)


def test_concurrent_direct_uploads_into_a_full_workspace_are_all_refused_promptly(
        embedded_server: EmbeddedServer, make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace("--max-files", "1")

    async def burst() -> tuple[list[httpx.Response], float]:
        async with _client(embedded_server, workspace) as client:
            first = await _direct_upload(client, workspace.bucket, "first.bin")()
            assert first.status_code == 201, first.text
            return await _timed(
                _direct_upload(client, workspace.bucket, f"burst/{index}.bin")()
                for index in range(20))

    responses, seconds = asyncio.run(burst())
    assert _statuses(responses) == {403: 20}, [r.text for r in responses if r.status_code != 403]
    assert {response.json()["error"]["code"] for response in responses} == {"quota_exceeded"}
    assert seconds < PROMPTLY_SECONDS
    assert _counters(embedded_server, workspace) == _books(1)


def test_concurrent_direct_uploads_to_one_path_one_wins_promptly(
        embedded_server: EmbeddedServer, make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace()

    async def burst() -> tuple[list[httpx.Response], float]:
        async with _client(embedded_server, workspace) as client:
            return await _timed(
                _direct_upload(client, workspace.bucket, "same.bin")() for _ in range(16))

    responses, seconds = asyncio.run(burst())
    assert _statuses(responses) == {201: 1, 409: 15}, [r.text for r in responses]
    assert seconds < PROMPTLY_SECONDS
    assert _counters(embedded_server, workspace) == _books(1)


async def _create_presigned(client: httpx.AsyncClient, bucket: str,
                            path: str) -> httpx.Response:
    return await client.post(f"/v1/buckets/{bucket}/uploads", json={
        "path": path, "size": len(BODY), "content_type": "application/octet-stream"})


async def _put_bytes(storage: httpx.AsyncClient, upload: dict[str, Any]) -> None:
    put = await storage.put(upload["url"], content=BODY, headers=upload["headers"])
    assert put.status_code == 200, put.text


def test_concurrent_presigned_uploads_are_created_and_completed_promptly(
        embedded_server: EmbeddedServer, make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace()

    async def bursts() -> tuple[list[httpx.Response], float, float]:
        async with _client(embedded_server, workspace) as client, \
                httpx.AsyncClient(timeout=60) as storage:
            created, creating = await _timed(
                _create_presigned(client, workspace.bucket, f"presigned/{index}.bin")
                for index in range(40))
            assert _statuses(created) == {201: 40}, [r.text for r in created]
            await asyncio.gather(*(_put_bytes(storage, r.json()) for r in created))
            completed, completing = await _timed(
                client.post(f"/v1/uploads/{r.json()['id']}/complete") for r in created)
            return completed, creating, completing

    completed, creating, completing = asyncio.run(bursts())
    assert creating < PROMPTLY_SECONDS
    assert _statuses(completed) == {200: 40}, [r.text for r in completed]
    assert completing < PROMPTLY_SECONDS
    assert _counters(embedded_server, workspace) == _books(40)


def test_concurrent_presigned_uploads_into_a_full_workspace_are_all_refused_promptly(
        embedded_server: EmbeddedServer, make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace("--max-files", "5")

    async def burst() -> tuple[list[httpx.Response], float]:
        async with _client(embedded_server, workspace) as client:
            return await _timed(
                _create_presigned(client, workspace.bucket, f"presigned/{index}.bin")
                for index in range(25))

    responses, seconds = asyncio.run(burst())
    assert _statuses(responses) == {201: 5, 403: 20}, [r.text for r in responses]
    assert {response.json()["error"]["code"] for response in responses
            if response.status_code == 403} == {"quota_exceeded"}
    assert seconds < PROMPTLY_SECONDS
    assert _counters(embedded_server, workspace) == _books(0, reserved=(50, 5))


def test_concurrent_presigned_completes_to_one_path_one_wins_promptly(
        embedded_server: EmbeddedServer, make_workspace: Callable[..., Workspace]) -> None:
    workspace = make_workspace()

    async def bursts() -> tuple[list[httpx.Response], list[httpx.Response], float]:
        async with _client(embedded_server, workspace) as client, \
                httpx.AsyncClient(timeout=60) as storage:
            created = list(await asyncio.gather(*(
                _create_presigned(client, workspace.bucket, "same.bin") for _ in range(16))))
            await asyncio.gather(*(_put_bytes(storage, r.json()) for r in created
                                   if r.status_code == 201))
            completed, completing = await _timed(
                client.post(f"/v1/uploads/{r.json()['id']}/complete") for r in created
                if r.status_code == 201)
            return created, completed, completing

    created, completed, seconds = asyncio.run(bursts())
    # No file holds the path yet when they are created, so each may start; one completes.
    assert _statuses(created) == {201: 16}, [r.text for r in created]
    # Each PUT completes its upload on arrival, so the losers were refused there: their
    # clients' completes answer that refusal again, the 409 their own would have met.
    assert _statuses(completed) == {200: 1, 409: 15}, [r.text for r in completed]
    assert {r.json()["error"]["code"] for r in completed if r.status_code == 409} == {
        "conflict"}
    assert seconds < PROMPTLY_SECONDS
    assert _counters(embedded_server, workspace) == _books(1)
