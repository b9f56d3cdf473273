"""`cloudnexus workspace ...` and `cloudnexus key ...` against the real databases."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudnexus.cli import app as cli
from tests.conftest import free_port, new_postgres_database

runner = CliRunner()


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Any:
    monkeypatch.setenv("DATABASE_URL", database_url)

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, list(args))

    return invoke


def test_workspace_create_list_and_quota(run: Any) -> None:
    created = run("workspace", "create", "acme", "--max-files", "10")
    assert created.exit_code == 0, created.output
    assert "workspace acme created" in created.output
    assert run("workspace", "create", "acme").exit_code == 1
    assert "already exists" in run("workspace", "create", "acme").output
    quota = run("workspace", "set-quota", "acme", "--max-bytes", "5000")
    assert quota.exit_code == 0 and "max_bytes=5000, max_files=10" in quota.output
    lifted = run("workspace", "set-quota", "acme", "--max-files", "unlimited")
    assert "max_bytes=5000, max_files=unlimited" in lifted.output
    assert "acme" in run("workspace", "list").output
    assert run("workspace", "set-quota", "acme", "--max-bytes", "lots").exit_code == 2
    assert "max_bytes=130000000," in run("workspace", "set-quota", "acme",
                                         "--max-bytes", "130MB").output
    assert "max_bytes=2147483648," in run("workspace", "set-quota", "acme",
                                          "--max-bytes", "2GiB").output
    assert run("workspace", "set-quota", "acme", "--max-files", "2k").exit_code == 2
    assert run("workspace", "set-quota", "nobody", "--max-bytes", "1").exit_code == 1


def test_key_create_prints_a_working_key_once(run: Any, client: Any) -> None:
    run("workspace", "create", "acme")
    created = run("key", "create", "--workspace", "acme", "--scope", "admin", "--name", "first")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("cnx_")
    response = client.get("/v1/workspace", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200 and response.json()["name"] == "acme"
    listed = run("key", "list", "--workspace", "acme")
    assert "first" in listed.output and key.split("_", 2)[2] not in listed.output
    key_id = client.get("/v1/keys", headers={"Authorization": f"Bearer {key}"}).json()[
        "items"][0]["id"]
    assert run("key", "revoke", key_id, "--workspace", "acme").exit_code == 0
    assert client.get("/v1/workspace",
                      headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_key_create_refuses_bad_input(run: Any) -> None:
    run("workspace", "create", "acme")
    assert run("key", "create", "--workspace", "acme", "--scope", "root").exit_code == 2
    assert run("key", "create", "--workspace", "nobody", "--scope", "admin").exit_code == 1
    past = run("key", "create", "--workspace", "acme", "--scope", "admin",
               "--expires", "2001-01-01T00:00:00Z")
    assert past.exit_code == 2
    for beyond in ("9999-12-31T23:59:59-10:00", "99999999d"):  # past the year 9999 in UTC
        assert run("key", "create", "--workspace", "acme", "--scope", "admin",
                   "--expires", beyond).exit_code == 2
    expiring = run("key", "create", "--workspace", "acme", "--scope", "files:read",
                   "--expires", "30d")
    assert expiring.exit_code == 0


def test_key_revoke_in_another_workspace_is_refused(run: Any, client: Any) -> None:
    run("workspace", "create", "a-corp")
    run("workspace", "create", "b-corp")
    key = run("key", "create", "--workspace", "a-corp", "--scope", "admin").stdout.split()[-1]
    key_id = client.get("/v1/keys", headers={"Authorization": f"Bearer {key}"}).json()[
        "items"][0]["id"]
    assert run("key", "revoke", key_id, "--workspace", "b-corp").exit_code == 1
    assert client.get("/v1/workspace",
                      headers={"Authorization": f"Bearer {key}"}).status_code == 200


@pytest.mark.parametrize(("host", "shown"), [("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"),
                                             ("127.0.0.1", "127.0.0.1"), ("10.1.2.3", "10.1.2.3"),
                                             ("files.example", "files.example")])
def test_serve_points_presigned_urls_at_a_reachable_host(host: str, shown: str) -> None:
    from cloudnexus.cli import reachable_host

    assert reachable_host(host) == shown


@pytest.mark.parametrize("command", [
    ["workspace", "create", "acme"], ["workspace", "list"], ["key", "list", "--workspace", "acme"],
    ["maintenance", "--dry-run"]])
def test_an_unmigrated_database_is_one_line_naming_migrate(
        command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with new_postgres_database(f"cloudnexus_cli_{uuid.uuid4().hex[:12]}") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = runner.invoke(cli, command)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: the database has no CloudNexus schema yet: run `cloudnexus migrate`")


def test_an_unreachable_database_is_one_line_without_the_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:s3cret@127.0.0.1:{free_port()}/db")
    for command in (["workspace", "list"], ["migrate"]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 1
        [line] = result.output.strip().splitlines()
        assert line.startswith("error: cannot reach the database (postgresql+psycopg://u:***@")
        assert "s3cret" not in result.output


def test_serve_on_a_taken_port_is_one_line_naming_the_option(tmp_path: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cloudnexus", "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "DATA_DIR": str(tmp_path), "NO_COLOR": "1"})
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: 127.0.0.1:{port} is already in use: choose "
                                     "another port with --port (make run PORT=8001)")


def test_key_list_shows_whole_ids_and_revoke_takes_a_unique_start(
        run: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    run("workspace", "create", "acme")
    for name in ("one", "two", "three"):
        run("key", "create", "--workspace", "acme", "--scope", "files:read", "--name", name)
    listed = [json.loads(line) for line in
              run("key", "list", "--workspace", "acme", "--json").stdout.splitlines()]
    assert sorted(entry["name"] for entry in listed) == ["one", "three", "two"]
    assert set(listed[0]) == {"id", "name", "scopes", "created_at", "expires_at",
                              "last_used_at", "revoked_at"}
    table = run("key", "list", "--workspace", "acme").stdout
    assert all(entry["id"] in table for entry in listed)  # whole, at 80 columns
    ids = [entry["id"] for entry in listed]
    shortest_unique = next(
        ids[0][:n] for n in range(1, 37) if sum(i.startswith(ids[0][:n]) for i in ids) == 1)
    revoked = run("key", "revoke", shortest_unique, "--workspace", "acme")
    assert revoked.exit_code == 0 and f"key {ids[0]} revoked" in revoked.output
    again = [json.loads(line) for line in
             run("key", "list", "--workspace", "acme", "--json").stdout.splitlines()]
    assert [e["revoked_at"] is not None for e in again] == [i == ids[0] for i in ids]
    assert "no key of workspace acme" in run("key", "revoke", "zz", "--workspace", "acme").output
    assert "give more of it" in run("key", "revoke", "", "--workspace", "acme").output


def test_workspace_list_json(run: Any) -> None:
    run("workspace", "create", "acme", "--max-bytes", "1KiB")
    [entry] = [json.loads(line) for line in run("workspace", "list", "--json").stdout.splitlines()]
    assert (entry["name"], entry["max_bytes"], entry["files"]) == ("acme", 1024, 0)
