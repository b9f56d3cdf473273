"""`cloudnexus serve` under abuse, through a real server process on a loopback port: heads and
bodies too large, clients that stall, clients that hang up. Each is measured from outside:
the answer, the server's memory (/proc), its log, what it stored."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudnexus.middleware import JSON_BODY_MAX_BYTES
from cloudnexus.serving import HEAD_MAX_BYTES
from tests.conftest import free_port

MiB = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    key: str
    data_dir: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {self.key}"})

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM")

    def log_entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()
                if line.startswith("{")]

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "cloudnexus", *args], env=env, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def serve_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> Served:
        data_dir = tmp_path_factory.mktemp("serve")
        env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "INFO"}
        _cli(env, "migrate")
        _cli(env, "workspace", "create", "acme")
        key = _cli(env, "key", "create", "--workspace", "acme", "--scope", "admin").split()[-1]
        port, log = free_port(), data_dir / "server.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "cloudnexus", "serve", "--port", str(port), *options],
                env=env, stdout=output, stderr=subprocess.STDOUT, cwd=data_dir)
        started.append(process)
        served = Served(process, port, key, data_dir, log)
        for _ in range(150):
            try:
                served.connect().close()
                break
            except OSError:
                time.sleep(0.1)
        with served.client() as client:  # warm: imports and first connections made
            assert client.post("/v1/buckets", json={"name": "photos"}).status_code == 201
            uploaded = client.post("/v1/buckets/photos/files", files={"file": ("w", b"w")})
            assert uploaded.status_code == 201
            assert client.delete(f"/v1/files/{uploaded.json()['id']}").status_code == 204
        return served

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(serve_factory: Any) -> Served:
    return serve_factory()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one response with a Content-Length."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(CHUNK)
        assert chunk, f"closed without an answer: {received!r}"
        received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip()
               for name, value in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(CHUNK)
        assert chunk
        body += chunk
    return int(status_line.split()[1]), headers, body


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send what the server may stop reading (it answers as soon as it has refused)."""
    with contextlib.suppress(OSError):
        sock.sendall(data)


def test_a_16_mib_header_is_refused_with_431_without_being_read(served: Served) -> None:
    before = served.peak_rss_mib()
    with served.connect() as sock:
        sock.sendall(b"GET /v1/workspace HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        filler = b"a" * CHUNK
        for _ in range(16 * MiB // CHUNK):
            send_quietly(sock, filler)
        send_quietly(sock, b"\r\n\r\n")
        status, headers, body = read_response(sock)
    assert status == 431
    error = json.loads(body)["error"]
    assert error["code"] == "headers_too_large"
    assert error["request_id"] == headers["x-request-id"]
    assert served.peak_rss_mib() - before < 3


def test_headers_just_under_the_bound_are_served(served: Served) -> None:
    request_line = b"GET /v1/workspace HTTP/1.1\r\n"
    fixed = request_line + f"Host: x\r\nAuthorization: Bearer {served.key}\r\n".encode()
    padding = b"a" * (HEAD_MAX_BYTES - len(fixed) - len(b"X-Padding: \r\n\r\n") - 16)
    with served.connect() as sock:
        sock.sendall(fixed + b"X-Padding: " + padding + b"\r\n\r\n")
        status, _, body = read_response(sock)
    assert status == 200, body
    assert json.loads(body)["name"] == "acme"


def _body_of(size: int) -> Iterator[bytes]:
    filler = b" " * CHUNK  # JSON white space: it would parse, if it were read
    yield b'{"name": "big"'
    for _ in range(size // CHUNK):
        yield filler
    yield b"}"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_200_mib_json_body_is_refused_with_413_without_being_read(served: Served,
                                                                   framing: str) -> None:
    size = 200 * MiB
    headers = {"Content-Type": "application/json"}
    if framing == "content-length":
        headers["Content-Length"] = str(len(b'{"name": "big"}') + size // CHUNK * CHUNK)
    before = served.peak_rss_mib()
    with served.client() as client:
        response = client.post("/v1/buckets", content=_body_of(size), headers=headers)
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "payload_too_large"
        assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
        assert client.get("/v1/buckets/big").status_code == 404
        # The connection goes on serving: what was left of the body was dropped.
        assert client.post("/v1/buckets", json={"name": f"after-{framing}"}).status_code == 201
    assert served.peak_rss_mib() - before < 20


def test_json_bodies_under_the_bound_are_read(served: Served) -> None:
    body = json.dumps({"name": "spacious"}).encode()
    padded = body[:-1] + b" " * (JSON_BODY_MAX_BYTES - len(body)) + b"}"
    with served.client() as client:
        response = client.post("/v1/buckets", content=padded,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def _stalled_upload(served: Served) -> socket.socket:
    sock = served.connect()
    sock.sendall(f"POST /v1/buckets/photos/files HTTP/1.1\r\nHost: x\r\n"
                 f"Authorization: Bearer {served.key}\r\n"
                 "Content-Type: multipart/form-data; boundary=b\r\n"
                 "Content-Length: 100000\r\n\r\n".encode())
    return sock


def test_stalled_clients_keep_no_one_else_waiting(served: Served) -> None:
    stalled = [_stalled_upload(served) for _ in range(24)]
    for _ in range(40):
        stalled.append(served.connect())
        stalled[-1].sendall(b"GET /hea")
    try:
        time.sleep(0.5)  # the stalled uploads are past their key check, waiting on bodies
        durations = []
        with served.client() as client:
            for number in range(20):
                started = time.perf_counter()
                response = client.post("/v1/buckets/photos/files",
                                       files={"file": (f"ordinary-{number}", b"bytes")})
                durations.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text
        assert max(durations) < 1, durations
    finally:
        for sock in stalled:
            sock.close()


def _form_head(served: Served, name: str, size: int) -> tuple[bytes, bytes]:
    """The request head and the form's opening of a direct upload of `size` bytes."""
    opening = (f'--b\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n").encode()
    length = len(opening) + size + len(b"\r\n--b--\r\n")
    head = (f"POST /v1/buckets/photos/files HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {served.key}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    return head, opening


def _hang_up_mid_upload(served: Served, name: str, size: int) -> None:
    head, opening = _form_head(served, name, size)
    with served.connect() as sock:
        sock.sendall(head + opening + b"x" * (size // 2))
        time.sleep(0.3)  # the server is reading the body when the client goes


def _access_lines(served: Served, status: int) -> list[dict[str, Any]]:
    return [entry for entry in served.log_entries()
            if entry["logger"] == "cloudnexus.access" and entry.get("status") == status]


def test_a_hang_up_mid_upload_is_a_499_at_info_and_leaves_nothing(serve_factory: Any) -> None:
    served = serve_factory()  # a log of its own
    sizes = [64 * 1024, 512 * 1024, 2 * MiB, 3 * MiB, 3 * MiB]  # the large ones forwarded
    with ThreadPoolExecutor(len(sizes)) as pool:
        list(pool.map(lambda args: _hang_up_mid_upload(served, *args),
                      [(f"gone-{number}", size) for number, size in enumerate(sizes)]))
    for _ in range(50):
        if len(_access_lines(served, 499)) == len(sizes):
            break
        time.sleep(0.1)
    entries = served.log_entries()
    assert [entry for entry in entries if entry["level"] in ("ERROR", "CRITICAL")] == []
    assert [entry for entry in entries if entry.get("status", 0) >= 500] == []
    hang_ups = _access_lines(served, 499)
    assert len(hang_ups) == len(sizes)
    assert {entry["level"] for entry in hang_ups} == {"INFO"}
    stored = [path for path in (served.data_dir / "objects").rglob("*") if path.is_file()]
    assert stored == []
    with served.client() as client:
        assert client.get("/v1/workspace").json()["usage"] == {"bytes": 0, "files": 0, "derived_bytes": 0}
        assert client.get("/v1/buckets/photos/files").json()["items"] == []


def test_clients_that_stall_past_the_timeouts_are_closed(serve_factory: Any) -> None:
    served = serve_factory("--head-timeout", "1", "--body-timeout", "1")
    partial_head = served.connect()
    partial_head.sendall(b"GET /hea")
    silent = served.connect()
    head, opening = _form_head(served, "stalled", 1000)
    stalled_body = served.connect()
    stalled_body.sendall(head + opening + b"x" * 10)
    try:
        for sock in (partial_head, silent, stalled_body):
            sock.settimeout(5)
            started = time.perf_counter()
            assert sock.recv(CHUNK) == b""  # closed by the server, without an answer
            assert time.perf_counter() - started < 4
    finally:
        for sock in (partial_head, silent, stalled_body):
            sock.close()
    for _ in range(50):
        if _access_lines(served, 499):
            break
        time.sleep(0.1)
    [stalled] = _access_lines(served, 499)
    assert stalled["path"] == "/v1/buckets/photos/files" and stalled["level"] == "INFO"
    assert [entry for entry in served.log_entries() if entry["level"] == "ERROR"] == []


def _reserved(served: Served) -> tuple[int, int]:
    with sqlite3.connect(served.data_dir / "cloudnexus.db") as database:
        row = database.execute("SELECT reserved_bytes, reserved_files FROM workspaces").fetchone()
    return int(row[0]), int(row[1])


def test_a_hang_up_mid_presigned_put_keeps_only_its_reservation(serve_factory: Any) -> None:
    served = serve_factory()
    size = 2 * MiB
    with served.client() as client:
        upload = client.post("/v1/buckets/photos/uploads", json={
            "path": "big.bin", "size": size, "content_type": "application/octet-stream"}).json()
        target = httpx.URL(upload["url"])
        head = f"PUT {target.raw_path.decode()} HTTP/1.1\r\nHost: x\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in upload["headers"].items())
        with served.connect() as sock:
            sock.sendall(head.encode() + b"\r\n" + b"x" * (size // 2))
            time.sleep(0.3)
        for _ in range(50):
            if _access_lines(served, 499):
                break
            time.sleep(0.1)
        [hang_up] = _access_lines(served, 499)
        assert hang_up["level"] == "INFO" and hang_up["method"] == "PUT"
        assert [entry for entry in served.log_entries() if entry["level"] == "ERROR"] == []
        assert [path for path in (served.data_dir / "objects").rglob("*") if path.is_file()
                    and not path.name.endswith(".awaiting")] == []  # the URL may still be used
        assert _reserved(served) == (size, 1)  # the upload is still open: its PUT may be retried
        assert client.delete(f"/v1/uploads/{upload['id']}").status_code == 204
    assert _reserved(served) == (0, 0)
