"""`cloudnexus doctor`: each setting's source with secrets masked; checks that can fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudnexus.cli import app as cli
from tests.conftest import free_port

runner = CliRunner()


@pytest.fixture
def doctor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))

    def run(**env: str) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runner.invoke(cli, ["doctor"])

    return run


def test_healthy_setup_passes_and_masks_secrets(doctor: Any, database_url: str) -> None:
    result = doctor(DATABASE_URL=database_url, DB_PASS="hunter2-secret")
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines()
             if line.count("│") >= 3}
    assert "environment" in lines["DATABASE_URL"] and "********" in lines["DATABASE_URL"]
    assert "********" in lines["DB_PASS"]
    assert "default" in lines["PRESIGN_EXPIRES"]
    for check in ("database", "storage", "migrations"):
        assert "ok" in lines[check]


def test_closed_database_port_fails_naming_the_check(doctor: Any) -> None:
    result = doctor(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    assert result.exit_code == 1
    database = next(line for line in result.output.splitlines() if "│ database" in line)
    assert "FAIL" in database


def test_unmigrated_database_fails_migrations(doctor: Any, tmp_path: Path) -> None:
    result = doctor(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.exit_code == 1
    migrations = next(line for line in result.output.splitlines() if "│ migrations" in line)
    assert "FAIL" in migrations and "cloudnexus migrate" in result.output


def test_bad_configuration_is_one_line_and_exit_2(doctor: Any) -> None:
    result = doctor(DB_PORT="not-a-port")
    assert result.exit_code == 2
    assert "DB_PORT:" in result.output
