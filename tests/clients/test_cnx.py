"""The `cnx` command in subprocesses against really running servers."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudnexus_client import Client

from tests.clients.conftest import CNX, PART_SIZE, MiB, Server, random_bytes

SUMMARY_FIELDS = {"uploaded", "downloaded", "copied", "skipped", "deleted", "failed", "bytes",
                  "resumed"}


def summary_of(result: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    lines = result.stdout.decode().strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) >= SUMMARY_FIELDS
    return dict(summary)


def make_tree(root: Path) -> dict[str, bytes]:
    files = {"a/x.txt": b"x" * 10, "a/b/y.bin": random_bytes(70_000), "top.txt": b"top"}
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return files


@pytest.fixture
def remote_bucket(server: Server, client_home: Path) -> str:
    name = f"c-{uuid.uuid4().hex[:10]}"
    result = server.cnx("mb", name, env=server.client_env(client_home))
    assert result.returncode == 0, result.stderr
    return name


def test_cp_r_puts_the_folders_contents_under_the_prefix_and_back(
        server: Server, remote_bucket: str, tmp_path: Path, client_home: Path) -> None:
    env = server.client_env(client_home)
    files = make_tree(tmp_path / "dir")
    up = server.cnx("cp", "-r", str(tmp_path / "dir"), f"cnx://{remote_bucket}/p/", "--json",
                    env=env)
    assert up.returncode == 0, up.stderr
    summary = summary_of(up)
    assert summary["uploaded"] == 3 and summary["failed"] == 0
    assert summary["bytes"] == sum(len(data) for data in files.values())
    listed = server.cnx("ls", "-r", f"cnx://{remote_bucket}/p/", "--json", env=env)
    paths = sorted(json.loads(line)["path"] for line in listed.stdout.decode().splitlines())
    assert paths == sorted(f"p/{relative}" for relative in files)
    level = server.cnx("ls", f"cnx://{remote_bucket}/p", env=env).stdout.decode().splitlines()
    assert level == ["a/", "top.txt"]
    down = server.cnx("cp", "-r", f"cnx://{remote_bucket}/p/", str(tmp_path / "back"),
                      "--json", env=env)
    assert summary_of(down)["downloaded"] == 3
    for relative, data in files.items():
        assert (tmp_path / "back" / relative).read_bytes() == data
    copied = server.cnx("cp", "-r", f"cnx://{remote_bucket}/p/a/", f"cnx://{remote_bucket}/q/",
                        "--json", env=env)
    assert summary_of(copied)["copied"] == 2
    cat = server.cnx("cat", f"cnx://{remote_bucket}/q/x.txt", env=env)
    assert cat.stdout == files["a/x.txt"]


def test_sync_a_second_run_transfers_nothing_and_delete_removes_extras(
        server: Server, remote_bucket: str, tmp_path: Path, client_home: Path) -> None:
    env = server.client_env(client_home)
    files = make_tree(tmp_path / "dir")
    first = summary_of(server.cnx("sync", str(tmp_path / "dir"), f"cnx://{remote_bucket}/s/",
                                  "--json", env=env))
    assert first["uploaded"] == 3
    second = summary_of(server.cnx("sync", str(tmp_path / "dir"), f"cnx://{remote_bucket}/s/",
                                   "--json", env=env))
    assert second["uploaded"] == 0 and second["skipped"] == 3 and second["bytes"] == 0
    (tmp_path / "dir" / "top.txt").unlink()
    (tmp_path / "dir" / "a" / "x.txt").write_bytes(b"changed!!!")  # same size, other bytes
    third = summary_of(server.cnx("sync", str(tmp_path / "dir"), f"cnx://{remote_bucket}/s/",
                                  "--delete", "--json", env=env))
    assert (third["uploaded"], third["deleted"], third["skipped"]) == (1, 1, 1)
    down = summary_of(server.cnx("sync", f"cnx://{remote_bucket}/s/", str(tmp_path / "mirror"),
                                 "--json", env=env))
    assert down["downloaded"] == 2
    again = summary_of(server.cnx("sync", f"cnx://{remote_bucket}/s/", str(tmp_path / "mirror"),
                                  "--json", env=env))
    assert again["downloaded"] == 0 and again["skipped"] == 2
    assert (tmp_path / "mirror" / "a" / "b" / "y.bin").read_bytes() == files["a/b/y.bin"]


def test_rm_r_mv_stat_share_usage_and_buckets(server: Server, remote_bucket: str,
                                              tmp_path: Path, client_home: Path) -> None:
    env = server.client_env(client_home)
    make_tree(tmp_path / "dir")
    server.cnx("cp", "-r", str(tmp_path / "dir"), f"cnx://{remote_bucket}/", env=env)
    moved = server.cnx("mv", f"cnx://{remote_bucket}/top.txt", f"cnx://{remote_bucket}/moved.txt",
                       env=env)
    assert moved.returncode == 0, moved.stderr
    record = json.loads(server.cnx("stat", f"cnx://{remote_bucket}/moved.txt", "--json",
                                   env=env).stdout)
    assert record["path"] == "moved.txt" and record["size"] == 3
    link = server.cnx("share", f"cnx://{remote_bucket}/moved.txt", "--expires", "10m",
                      env=env).stdout.decode().strip()
    assert httpx.get(link, follow_redirects=True).content == b"top"
    removed = server.cnx("rm", "-r", f"cnx://{remote_bucket}/a/", "--json", env=env)
    assert summary_of(removed)["deleted"] == 2
    left = server.cnx("ls", "-r", f"cnx://{remote_bucket}", env=env).stdout.decode().split()
    assert left == ["moved.txt"]
    usage = json.loads(server.cnx("usage", "--json", env=env).stdout)
    assert usage["usage"]["files"] >= 1
    names = server.cnx("buckets", env=env).stdout.decode().split()
    assert remote_bucket in names
    assert server.cnx("rb", remote_bucket, env=env).returncode == 1  # not empty: 409
    assert server.cnx("rb", remote_bucket, "--force", env=env).returncode == 0


def test_exit_status_and_errors_on_standard_error(server: Server, remote_bucket: str,
                                                  client_home: Path, tmp_path: Path) -> None:
    env = server.client_env(client_home)
    missing = server.cnx("stat", f"cnx://{remote_bucket}/nothing.txt", env=env)
    assert missing.returncode == 1
    assert b"not_found" in missing.stderr
    assert server.cnx("cp", "a", "b", env=env).returncode == 2  # two local paths
    assert server.cnx("cp", str(tmp_path), f"cnx://{remote_bucket}/", env=env).returncode == 2
    assert server.cnx("ls", "--sort", "color", f"cnx://{remote_bucket}",
                      env=env).returncode == 2
    assert server.cnx("frobnicate", env=env).returncode == 2
    wrong = server.cnx("buckets", env={**env, "CLOUDNEXUS_KEY": "cnx_bad_key"})
    assert wrong.returncode == 1
    assert b"unauthorized (request id " in wrong.stderr


def test_output_off_a_terminal_has_no_escape_codes(server: Server, remote_bucket: str,
                                                   tmp_path: Path, client_home: Path) -> None:
    env = server.client_env(client_home)
    (tmp_path / "f.bin").write_bytes(random_bytes(3 * MiB))
    result = server.cnx("cp", str(tmp_path / "f.bin"), f"cnx://{remote_bucket}/f.bin", env=env)
    assert result.returncode == 0
    assert b"\x1b" not in result.stdout + result.stderr
    assert result.stdout.decode() == f"upload: {tmp_path / 'f.bin'} to cnx://{remote_bucket}/f.bin\n"
    assert result.stderr == b""


def _on_a_terminal(server: Server, *args: str, env: dict[str, str]) -> tuple[int, bytes]:
    """Run `cnx` with standard output and error on a pseudo-terminal: its status and all it
    drew there."""
    main, side = pty.openpty()
    environment = {**os.environ, "CLOUDNEXUS_URL": server.url, "CLOUDNEXUS_KEY": server.key,
                   "TERM": "xterm-256color", "COLUMNS": "120", **env}
    process = subprocess.Popen([*CNX, *args], stdin=subprocess.DEVNULL, stdout=side,
                               stderr=side, env=environment)
    os.close(side)
    drawn = bytearray()
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main)
    return process.wait(timeout=120), bytes(drawn)


def test_a_terminal_gets_progress_bars_and_the_same_results(
        server: Server, remote_bucket: str, tmp_path: Path, client_home: Path) -> None:
    env = server.client_env(client_home)
    (tmp_path / "f.bin").write_bytes(random_bytes(3 * MiB))
    status, drawn = _on_a_terminal(server, "cp", str(tmp_path / "f.bin"),
                                   f"cnx://{remote_bucket}/f.bin", env=env)
    assert status == 0, drawn
    assert b"\x1b[" in drawn and b"total" in drawn  # rich's bars, in total and per file
    assert b"MB" in drawn and b"f.bin" in drawn
    assert f"upload: {tmp_path / 'f.bin'} to cnx://{remote_bucket}/f.bin".encode() in drawn
    status, plain = _on_a_terminal(server, "cp", str(tmp_path / "f.bin"),
                                   f"cnx://{remote_bucket}/g.bin", "--no-progress", env=env)
    assert status == 0 and b"\x1b" not in plain and b"total" not in plain


def test_cnx_retries_a_503_until_the_database_is_back(s3_server: Server,
                                                      client_home: Path) -> None:
    """The server's PostgreSQL is cut while `cnx mb` runs and restored during its backoff:
    the command waits it out and makes the bucket once."""
    env = s3_server.client_env(client_home)
    name = f"r-{uuid.uuid4().hex[:10]}"
    proxy = s3_server.proxies["database"]
    proxy.stop()
    restore = threading.Timer(1.5, proxy.start)
    restore.start()
    try:
        result = s3_server.cnx("mb", name, env=env)
    finally:
        restore.join()
        if not proxy.running:
            proxy.start()
    assert result.returncode == 0, result.stderr
    names = s3_server.cnx("buckets", env=env).stdout.decode().split()
    assert names.count(name) == 1


def test_stdin_and_stdout(server: Server, remote_bucket: str, client_home: Path) -> None:
    env = server.client_env(client_home)
    data = random_bytes(100_000)
    assert server.cnx("cp", "-", f"cnx://{remote_bucket}/in.bin", input=data,
                      env=env).returncode == 0
    assert server.cnx("cp", f"cnx://{remote_bucket}/in.bin", "-", env=env).stdout == data


def test_login_saves_a_private_profile(embedded_server: Server, tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "CLOUDNEXUS_URL": "",
           "CLOUDNEXUS_KEY": ""}
    result = embedded_server.cnx("login", "--url", embedded_server.url, input=
                                 (embedded_server.key + "\n").encode(), env=env)
    assert result.returncode == 0, result.stderr
    profile = tmp_path / "config" / "cloudnexus" / "config.toml"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert embedded_server.key in profile.read_text()
    listed = subprocess.run([*CNX, "usage"], capture_output=True, timeout=60, check=False,
                            env={**{k: v for k, v in os.environ.items()
                                    if not k.startswith("CLOUDNEXUS_")},
                                 "XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert listed.returncode == 0, listed.stderr
    assert embedded_server.key.encode() not in result.stdout + result.stderr
    bad = embedded_server.cnx("login", "--url", embedded_server.url, "--key", "cnx_x_y", env=env)
    assert bad.returncode == 1


def test_a_killed_cp_resumes_where_it_stopped(s3_server: Server, client_home: Path,
                                              tmp_path: Path) -> None:
    """cp of a 4-part file; killed once a part is in (its storage cut so it cannot finish)."""
    env = s3_server.client_env(client_home)
    name = f"k-{uuid.uuid4().hex[:10]}"
    assert s3_server.cnx("mb", name, env=env).returncode == 0
    data = random_bytes(3 * PART_SIZE + MiB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    destination = f"cnx://{name}/big.bin"
    environment = {**os.environ, "CLOUDNEXUS_URL": s3_server.url,
                   "CLOUDNEXUS_KEY": s3_server.key, **env}
    process = subprocess.Popen([*CNX, "cp", str(source), destination, "--parallel", "1",
                                "--json"], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    proxy = s3_server.proxies["storage"]
    state_dir = client_home / "cache" / "cloudnexus" / "uploads"
    cx = Client(s3_server.url, key=s3_server.key)
    received = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and not received:
            states = list(state_dir.glob("*.json")) if state_dir.exists() else []
            if states:
                upload_id = json.loads(states[0].read_text())["upload_id"]
                received = len(cx.uploads.get(upload_id).parts_received)
            time.sleep(0.02)
        proxy.stop()  # what is in flight now fails and waits in backoff: kill it there
        process.kill()
        process.wait(timeout=30)
    finally:
        if not proxy.running:
            proxy.start()
    assert 1 <= received < 4, "the first run should be killed part-way"
    again = subprocess.run([*CNX, "cp", str(source), destination, "--json"], env=environment,
                           capture_output=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    summary = summary_of(again)
    assert summary["resumed"] is True and summary["uploaded"] == 1
    assert summary["bytes"] <= len(data) - PART_SIZE  # the parts already in were not sent again
    file = cx.files.find(name, "big.bin")
    assert file is not None and file.sha256 == hashlib.sha256(data).hexdigest()
    out = tmp_path / "back.bin"
    cx.files.download(file.id, out)
    assert out.read_bytes() == data
    assert not list(state_dir.glob("*.json"))
    cx.close()


def test_cnx_runs_with_python_m(embedded_server: Server) -> None:
    result = subprocess.run([sys.executable, "-m", "cloudnexus_client.cli", "--help"],
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0 and b"cp" in result.stdout
