"""deploy/migrate.sh: the migrate invoke, waited for as long as the function may run, and
invoked again when the function's timeout cut a long backfill off (it goes on where it was)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMED_OUT = {"errorMessage": "2026-11-26T08:00:00Z abc Task timed out after 900.00 seconds"}

# A stand-in for the AWS CLI: each `lambda invoke` is logged and answers the next of the
# prepared replies (FunctionError, payload), the payload written to its last argument.
FAKE_AWS = """#!/usr/bin/env python3
import json, sys
from pathlib import Path
here = Path(__file__).parent
calls = here / "calls.jsonl"
count = len(calls.read_text().splitlines()) if calls.exists() else 0
with calls.open("a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
error, payload = json.loads((here / "replies.json").read_text())[count]
if error == "cli-failure":
    sys.exit("Could not connect to the endpoint URL")
Path(sys.argv[-1]).write_text(json.dumps(payload))
print(error)
"""


def migrate(tmp_path: Path, replies: list[tuple[str, dict[str, str]]]) -> tuple[
        subprocess.CompletedProcess[str], list[list[str]]]:
    fake = tmp_path / "aws"
    fake.write_text(FAKE_AWS)
    fake.chmod(0o755)
    (tmp_path / "replies.json").write_text(json.dumps(replies))
    result = subprocess.run(
        ["bash", "deploy/migrate.sh", "shop", "--region", "eu-west-1"], cwd=ROOT,
        capture_output=True, text=True, timeout=60,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "MIGRATE_ATTEMPTS": "3"})
    calls = tmp_path / "calls.jsonl"
    return result, [json.loads(line) for line in calls.read_text().splitlines()]


def test_a_run_cut_off_by_the_timeout_is_invoked_again_until_it_is_done(tmp_path: Path) -> None:
    result, calls = migrate(tmp_path, [("Unhandled", TIMED_OUT), ("Unhandled", TIMED_OUT),
                                       ("None", {"migrated": "0005"})])
    assert result.returncode == 0, result.stderr
    assert 'migrate: {"migrated": "0005"}' in result.stdout
    assert len(calls) == 3
    assert all(call[:2] == ["lambda", "invoke"] for call in calls)
    assert {"--region", "eu-west-1", "shop-maintenance"} <= set(calls[0])
    timeout = calls[0][calls[0].index("--cli-read-timeout") + 1]
    assert int(timeout) > 900  # not the CLI's 60 s, after which it would invoke a second one


def test_another_error_is_not_repeated_and_fails(tmp_path: Path) -> None:
    result, calls = migrate(tmp_path, [("Unhandled", {"errorMessage": "permission denied"}),
                                       ("None", {"migrated": "0005"})])
    assert result.returncode == 1
    assert len(calls) == 1
    assert "permission denied" in result.stderr


def test_it_gives_up_after_its_attempts(tmp_path: Path) -> None:
    result, calls = migrate(tmp_path, [("Unhandled", TIMED_OUT)] * 4)
    assert (result.returncode, len(calls)) == (1, 3)
    assert "Task timed out" in result.stderr


def test_the_cli_failing_itself_is_said_and_not_repeated(tmp_path: Path) -> None:
    result, calls = migrate(tmp_path, [("cli-failure", {}), ("None", {"migrated": "0005"})])
    assert (result.returncode, len(calls)) == (1, 1)
    assert "Could not connect" in result.stderr
    assert "the AWS CLI could not invoke shop-maintenance" in result.stderr
