"""`cloudnexus doctor`: each setting's source with secrets masked, and checks that can fail."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudnexus.cli import app as cli
from cloudnexus.cli import console as cli_console
from tests.conftest import free_port, new_postgres_database

PASSWORD = "hunter2-doctor-secret"
runner = CliRunner()
Run = Callable[..., Any]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """Run `cloudnexus COMMAND` with these environment variables added."""
    monkeypatch.setenv("COLUMNS", "200")
    # The command's console took its width when it was made, wherever the tests import it.
    monkeypatch.setattr(cli_console, "width", 200)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))

    def invoke(*command: str, **env: str) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runner.invoke(cli, list(command or ["doctor"]))

    return invoke


def rows(output: str) -> dict[str, list[str]]:
    """The tables' rows by their first cell: {"DB_PASS": ["********", "environment"], ...}."""
    table: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) >= 3 and cells[0]:
            table[cells[0]] = cells[1:]
    return table


def postgres_parts(url: str, port: int = 5432) -> dict[str, str]:
    """The DB_* variables for a database on the test server, with a password (trust auth)."""
    return {"DB_HOST": "127.0.0.1", "DB_PORT": str(port), "DB_USER": "postgres",
            "DB_PASS": PASSWORD, "DB_NAME": url.rsplit("/", 1)[1]}


def test_healthy_setup_passes_and_shows_sources_not_secrets(run: Run, postgres_url: str) -> None:
    result = run("doctor", **postgres_parts(postgres_url))
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    table = rows(result.output)
    assert table["DB_PASS"] == ["********", "environment"]
    assert table["DB_HOST"] == ["127.0.0.1", "environment"]
    assert table["PRESIGN_EXPIRES"] == ["900", "default"]
    assert table["S3_BUCKET"] == ["-", "default"]
    for check in ("database", "storage", "migrations"):
        assert table[check][0] == "ok", result.output


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_every_database_and_storage_pairing_passes(run: Run, database_url: str, storage: str,
                                                   request: pytest.FixtureRequest) -> None:
    env = {"DATABASE_URL": database_url, "DB_PASS": PASSWORD}
    if storage == "s3":
        env |= {"S3_BUCKET": "cloudnexus-test",
                "S3_ENDPOINT_URL": request.getfixturevalue("moto_endpoint")}
    result = run("doctor", **env)
    assert result.exit_code == 0, result.output
    table = rows(result.output)
    assert table["DATABASE_URL"] == ["********", "environment"]
    assert PASSWORD not in result.output


def test_closed_database_port_fails_naming_the_check(run: Run, postgres_url: str) -> None:
    result = run("doctor", **postgres_parts(postgres_url, port=free_port()))
    assert result.exit_code == 1
    table = rows(result.output)
    assert table["database"][0] == "FAIL" and "refused" in table["database"][1].lower()
    assert table["storage"][0] == "ok"
    assert PASSWORD not in result.output


def test_embedded_default_fails_migrations_until_migrated(run: Run) -> None:
    before = run("doctor")
    assert before.exit_code == 1
    table = rows(before.output)
    assert table["database"][0] == "ok"
    assert table["migrations"][0] == "FAIL" and "cloudnexus migrate" in table["migrations"][1]

    assert run("migrate").exit_code == 0
    after = run("doctor")
    assert after.exit_code == 0, after.output
    assert rows(after.output)["migrations"][0] == "ok"


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    with new_postgres_database(f"cloudnexus_empty_{uuid.uuid4().hex[:12]}") as url:
        yield url


def test_unmigrated_postgres_fails_migrations(run: Run, empty_postgres_database: str) -> None:
    result = run("doctor", DATABASE_URL=empty_postgres_database)
    assert result.exit_code == 1
    table = rows(result.output)
    assert table["database"][0] == "ok" and table["migrations"][0] == "FAIL"


def test_bad_configuration_is_one_line_and_exit_2(run: Run) -> None:
    result = run("doctor", DB_PORT=PASSWORD)
    assert result.exit_code == 2
    assert "DB_PORT:" in result.output and PASSWORD not in result.output


def test_a_failed_check_is_told_once_by_the_table_not_again_on_stderr(
        tmp_path: Path) -> None:
    """In a real process (no test logging attached), the health checks' warnings must not
    reach stderr as stray plain-text lines beside the table."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DB_", "DATABASE_", "S3_"))}
    env.update(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/x",
               DATA_DIR=str(tmp_path / "data"), COLUMNS="200")
    result = subprocess.run([sys.executable, "-m", "cloudnexus", "doctor"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert result.stderr == ""


def test_the_local_backend_says_where_it_keeps_metadata(run: Run) -> None:
    assert run("migrate").exit_code == 0
    table = rows(run("doctor").output)
    assert table["local metadata"][0] == "ok"
    assert "extended attribute" in table["local metadata"][1]
    assert "tar --xattrs" in table["local metadata"][1]


def test_s3_storage_has_no_local_metadata_row(run: Run, database_url: str,
                                              moto_endpoint: str) -> None:
    result = run("doctor", DATABASE_URL=database_url, S3_BUCKET="cloudnexus-test",
                 S3_ENDPOINT_URL=moto_endpoint)
    assert result.exit_code == 0, result.output
    assert "local metadata" not in rows(result.output)


def test_without_attributes_the_local_backend_says_sidecars(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "setxattr")  # as on macOS
    assert run("migrate").exit_code == 0
    assert "sidecar files" in rows(run("doctor").output)["local metadata"][1]
