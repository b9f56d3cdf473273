"""The two servers behind one interface: upload, download and walk, each its own way.

CloudNexus: a direct upload is `multipart/form-data` (the contract's only direct form); a
download is `GET /v1/files/{id}/content`, a 302, then the presigned GET it points to (two
requests, as every client of ours makes them); a walk follows `next_cursor`.
Supabase Storage: an upload is `POST /object/{bucket}/{path}` with the raw bytes (what its
JavaScript client sends for a Buffer, its cheaper form); a download is one
`GET /object/authenticated/{bucket}/{path}`; a walk is `POST /object/list/{bucket}` with
`limit` and `offset`, until a page comes back short.
Any other answer than the expected one stops the run: a figure of failures is no figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from aiohttp import ClientSession, FormData

from bench.embedded import embedded_environment
from bench.peer.peers import Peer
from bench.scratch import make_tenant, scratch_database
from bench.serve import _wait_for_port as wait_for_port
from bench.serve import free_port, loopback_url

PAGE = 100
WALK_PREFIX = "walk/"


class Target(Protocol):
    name: str
    base: str

    def headers(self) -> dict[str, str]: ...

    async def upload(self, client: ClientSession, path: str, body: bytes) -> str:
        """Store `body` at `path`; return what `download` takes to read it back."""

    async def download(self, client: ClientSession, handle: str, size: int) -> None: ...

    async def walk(self, client: ClientSession) -> int:
        """Every file under WALK_PREFIX, PAGE a request; returns how many were seen."""


@dataclass(frozen=True)
class Answer:
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def expect(client: ClientSession, method: str, url: str, status: int, what: str,
                 **options: Any) -> Answer:
    """The answer to one request (redirects not followed), read whole; RuntimeError when its
    status is not `status`."""
    async with client.request(method, url, allow_redirects=False, **options) as response:
        body = await response.read()
        if response.status != status:
            raise RuntimeError(f"{what}: {response.status} (expected {status}): "
                               f"{body[:300]!r}")
        return Answer(response.headers, body)


def checked(response: httpx.Response, what: str) -> None:
    """A set-up or clean-up request (not measured, so sent with httpx) answered 200."""
    if response.status_code != 200:
        raise RuntimeError(f"{what}: {response.status_code}: {response.text[:300]}")


def expect_size(answer: Answer, size: int, what: str) -> None:
    if len(answer.body) != size:
        raise RuntimeError(f"{what} served {len(answer.body)} bytes, not {size}")


class CloudNexus:
    name = "CloudNexus"

    def __init__(self, base: str, key: str, bucket: str, pid: int) -> None:
        self.base, self.key, self.bucket, self.pid = base, key, bucket, pid

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def upload(self, client: ClientSession, path: str, body: bytes) -> str:
        form = FormData()
        form.add_field("path", path)
        form.add_field("file", body, filename="blob.bin",
                       content_type="application/octet-stream")
        made = await expect(client, "POST", f"/v1/buckets/{self.bucket}/files", 201,
                            "CloudNexus upload", data=form)
        file_id: str = made.json()["id"]
        return file_id

    async def download(self, client: ClientSession, handle: str, size: int) -> None:
        redirect = await expect(client, "GET", f"/v1/files/{handle}/content", 302,
                                "CloudNexus download")
        content = await expect(client, "GET", redirect.headers["location"], 200,
                               "CloudNexus presigned GET")
        expect_size(content, size, "CloudNexus")

    async def walk(self, client: ClientSession) -> int:
        seen, cursor = 0, None
        while True:
            params: dict[str, str | int] = {"prefix": WALK_PREFIX, "limit": PAGE, "sort": "path"}
            if cursor:
                params["cursor"] = cursor
            page = (await expect(client, "GET", f"/v1/buckets/{self.bucket}/files", 200,
                                 "CloudNexus listing", params=params)).json()
            seen += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return seen


class Supabase:
    name = "Supabase Storage"

    def __init__(self, peer: Peer) -> None:
        self.base, self.token = peer.url, peer.token
        self.bucket = f"cloudnexus-side-by-side-{uuid.uuid4().hex[:8]}"
        self.paths: list[str] = []

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def create_bucket(self) -> None:
        checked(httpx.post(f"{self.base}/bucket", headers=self.headers(), timeout=30,
                           json={"name": self.bucket, "public": False}),
                "Supabase bucket creation")

    def delete_bucket(self) -> None:
        """Its objects (by name, 1,000 a request), then the bucket: the peer is left as found."""
        with httpx.Client(base_url=self.base, headers=self.headers(), timeout=120) as client:
            for start in range(0, len(self.paths), 1000):
                checked(client.request("DELETE", f"/object/{self.bucket}",
                                       json={"prefixes": self.paths[start:start + 1000]}),
                        "Supabase object deletion")
            checked(client.delete(f"/bucket/{self.bucket}"), "Supabase bucket deletion")

    async def upload(self, client: ClientSession, path: str, body: bytes) -> str:
        await expect(client, "POST", f"/object/{self.bucket}/{path}", 200, "Supabase upload",
                     data=body, headers={"Content-Type": "application/octet-stream"})
        self.paths.append(path)
        return path

    async def download(self, client: ClientSession, handle: str, size: int) -> None:
        content = await expect(client, "GET", f"/object/authenticated/{self.bucket}/{handle}",
                               200, "Supabase download")
        expect_size(content, size, "Supabase")

    async def walk(self, client: ClientSession) -> int:
        seen = 0
        while True:
            page = (await expect(client, "POST", f"/object/list/{self.bucket}", 200,
                                 "Supabase listing", json={
                                     "prefix": WALK_PREFIX, "limit": PAGE, "offset": seen,
                                     "sortBy": {"column": "name", "order": "asc"}})).json()
            seen += len(page)
            if len(page) < PAGE:
                return seen


@contextmanager
def cloudnexus_server(log_path: str | None = None, *, wrapper: Sequence[str] = (),
                      source: Path | None = None, start_seconds: float = 60,
                      ) -> Iterator[CloudNexus]:
    """`cloudnexus serve` on loopback: a new migrated PostgreSQL database (with a workspace,
    an admin key and a private bucket) and a local storage folder; stopped and dropped after.
    Run under `wrapper` (a command that runs the one after it, as valgrind does), with
    `source` (a tree's src/) first on its path when given."""
    with scratch_database() as url, tempfile.TemporaryDirectory(prefix="cloudnexus-peer-") \
            as folder:
        tenant = make_tenant(url, with_file=False)
        port = free_port()
        env = {**embedded_environment(Path(folder), port), "DATABASE_URL": url,
               **({"PYTHONPATH": str(source)} if source else {})}
        with open(log_path or os.devnull, "w") as log:
            process = subprocess.Popen(
                [*wrapper, sys.executable, "-m", "cloudnexus", "serve", "--host", "127.0.0.1",
                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                base = loopback_url(port)
                wait_for_port(port, process, seconds=start_seconds)
                yield CloudNexus(base, tenant.key, tenant.bucket, process.pid)
            finally:
                process.terminate()
                process.wait(timeout=60)
