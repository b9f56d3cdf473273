"""The side-by-side harness (bench/peer/) without a peer: its skips, its checks of the peer
it is given (against a real HTTP server of this test), its figures and what it writes."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest

from bench import report
from bench.peer.__main__ import main
from bench.peer.measure import Sample, drive, memory_rows, ratio_rows, save
from bench.peer.peers import Peer, PeerRefused, find_peer, listening_pids, service_token
from tests.conftest import free_port

SECRET = "the-peer-secret-of-this-test-0123456789"
PEER_VARIABLES = ("PEER_URL", "PEER_JWT_SECRET", "PEER_SERVICE_KEY", "PEER_COMMIT",
                  "PEER_VERSION", "PEER_PID")


@pytest.fixture(autouse=True)
def no_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PEER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"name": "an earlier figure", "value": 1.0, "unit": "s",
                                 "reference": None, "ratio": None, "target": "(reported)",
                                 "met": True}]))
    monkeypatch.setattr(report, "RESULTS", path)
    return path


class StorageLike(BaseHTTPRequestHandler):
    """Supabase Storage's two answers the harness asks for before a run: its version, and
    its buckets to a service-role JWT signed with SECRET (401 to anything else)."""

    def do_GET(self) -> None:
        if self.path == "/version":
            self._send(200, b"9.8.7")
            return
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            self._send(401, b'{"statusCode":"401","error":"Unauthorized"}')
            return
        self._send(200 if claims.get("role") == "service_role" else 403, b"[]")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def storage_like() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StorageLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_without_peer_url_the_run_says_why_and_skips(
        capsys: pytest.CaptureFixture[str], results: Path) -> None:
    before = results.read_text()
    assert main([]) == 0
    assert "skipped: PEER_URL is not set" in capsys.readouterr().out
    assert results.read_text() == before


def test_without_a_key_the_run_skips(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PEER_URL", "http://127.0.0.1:1")
    assert main([]) == 0
    assert "skipped: neither PEER_SERVICE_KEY nor PEER_JWT_SECRET" in capsys.readouterr().out


def test_when_nothing_answers_the_run_skips(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("PEER_URL", url)
    monkeypatch.setenv("PEER_JWT_SECRET", SECRET)
    assert main([]) == 0
    assert f"skipped: nothing answers at {url} (ConnectError" in capsys.readouterr().out


def test_a_peer_that_refuses_the_key_fails_the_run(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        storage_like: str) -> None:
    monkeypatch.setenv("PEER_URL", storage_like)
    monkeypatch.setenv("PEER_JWT_SECRET", "another secret than the one the peer was given")
    assert main([]) == 1
    assert "/bucket answered 401" in capsys.readouterr().err
    with pytest.raises(PeerRefused):
        find_peer({"PEER_URL": storage_like,
                   "PEER_SERVICE_KEY": service_token(SECRET).replace("e", "f", 1)})


def test_the_peer_is_found_with_its_version_and_its_process(storage_like: str) -> None:
    import os

    peer = find_peer({"PEER_URL": storage_like + "/", "PEER_JWT_SECRET": SECRET,
                      "PEER_COMMIT": "4fa61fba"})
    assert (peer.url, peer.version, peer.commit) == (storage_like, "9.8.7", "4fa61fba")
    assert peer.pid == os.getpid()  # this test's thread serves it
    claims = jwt.decode(peer.token, SECRET, algorithms=["HS256"])
    assert claims["role"] == "service_role"
    assert claims["exp"] - claims["iat"] >= 3600
    overridden = find_peer({"PEER_URL": storage_like, "PEER_SERVICE_KEY": peer.token,
                            "PEER_VERSION": "1.11.2", "PEER_PID": "1"})
    assert (overridden.version, overridden.pid) == ("1.11.2", 1)


def test_listening_pids_names_only_the_listener() -> None:
    assert listening_pids(free_port()) == []


def test_ratios_and_targets() -> None:
    ours = Sample(count=300, seconds=2.0, latencies=[0.004, 0.005, 0.050])
    theirs = Sample(count=200, seconds=2.0, latencies=[0.010, 0.010, 0.001])
    rate, p50 = ratio_rows("upload 1 KiB, concurrency 1", "req/s", ours, theirs)
    assert rate.name == "vs Supabase Storage: upload 1 KiB, concurrency 1: req/s"
    assert (rate.value, rate.reference, rate.ratio, rate.met) == (150.0, 100.0, 1.5, True)
    assert (p50.value, p50.reference, p50.ratio, p50.met) == (5.0, 10.0, 0.5, True)
    slower, later = ratio_rows("walk", "walks/s", theirs, ours)
    assert (slower.ratio, slower.met, slower.target) == (0.667, False, "ratio >= 1.0")
    assert (later.ratio, later.met, later.target) == (2.0, False, "ratio <= 1.0")


def test_memory_is_compared_only_when_the_peer_process_is_known() -> None:
    import os

    assert memory_rows(os.getpid(), None) == []
    now, peak = memory_rows(os.getpid(), os.getpid())
    assert (now.ratio, now.unit, now.target, now.met) == (1.0, "MiB", "ratio <= 1.0", True)
    assert now.value > 10
    assert peak.target == "(reported)"


def test_drive_keeps_the_concurrency_it_is_given() -> None:
    in_flight, most, numbers = 0, 0, []

    async def operation(number: int) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        numbers.append(number)
        await asyncio.sleep(0.01)
        in_flight -= 1

    sample = asyncio.run(drive(operation, 4, 0.1))
    assert most == 4
    assert sample.count == len(numbers) == len(sample.latencies) >= 8
    assert sorted(numbers) == list(range(len(numbers)))
    assert sample.seconds >= 0.1


def test_save_keeps_other_rows_and_names_the_peer(results: Path) -> None:
    from datetime import UTC, datetime

    rows = ratio_rows("download 1 MiB, concurrency 16", "req/s",
                      Sample(4, 1.0, [0.2]), Sample(2, 1.0, [0.4]))
    peer = Peer(url="http://127.0.0.1:5000", token="t", version="1.11.2", commit="4fa61fba",
                pid=None)
    save(rows, peer, started=datetime(2026, 12, 7, 5, 0, tzinfo=UTC), load=(1.0, 2.0, 3.0))
    saved = {row["name"]: row for row in json.loads(results.read_text())}
    assert "peer" not in saved.pop("an earlier figure")
    assert set(saved) == {row.name for row in rows}
    for row in saved.values():
        assert row["peer"] == {"name": "Supabase Storage", "version": "1.11.2",
                               "commit": "4fa61fba", "url": "http://127.0.0.1:5000",
                               "measured_at": "2026-12-07T05:00Z",
                               "load_average": [1.0, 2.0, 3.0]}


def test_the_cloudnexus_target_uploads_downloads_and_walks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The side-by-side client's own calls, against a running `cloudnexus serve`: a download
    follows the redirect and checks the bytes' count, a walk follows `next_cursor`."""
    import os

    from aiohttp import ClientSession

    from bench.peer import targets

    monkeypatch.setattr(targets, "PAGE", 2)

    async def run(ours: targets.CloudNexus) -> int:
        async with ClientSession(base_url=ours.base, headers=ours.headers()) as client:
            handle = await ours.upload(client, "seed/a.bin", os.urandom(1024))
            await ours.download(client, handle, 1024)
            with pytest.raises(RuntimeError, match="served 1024 bytes, not 5"):
                await ours.download(client, handle, 5)
            with pytest.raises(RuntimeError, match="CloudNexus download: 404"):
                await ours.download(client, "00000000-0000-4000-8000-000000000000", 1024)
            for n in range(3):
                await ours.upload(client, f"{targets.WALK_PREFIX}f{n}.txt", b"walk")
            return await ours.walk(client)

    with targets.cloudnexus_server() as ours:
        assert asyncio.run(run(ours)) == 3
