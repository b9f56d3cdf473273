"""JSON logs on stdout: one object per line, the request id on every line, an access line per
request, errors at ERROR (so CloudWatch's `filter @message like /ERROR/` finds them), no secrets.

configure_logging binds to the sys.stdout of the moment, so each test calls it (directly or
through create_app) inside the test body, where capfd is watching.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from cloudnexus.app import create_app
from cloudnexus.config import ConfigError, load_settings
from cloudnexus.logs import aws_request_id_var, configure_logging
from tests.conftest import free_port

CLOUDWATCH_ERROR_FILTER = re.compile(r"ERROR")  # filter @message like /ERROR/
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PASSWORD = "pw-Zq8hunter2-not-for-logs"

noisy = APIRouter(prefix="/_test")


@noisy.get("/work")
def work() -> dict[str, str]:
    logging.getLogger("cloudnexus.test").info("working on it", extra={"step": 1})
    return {"done": "yes"}


@noisy.get("/bug")
def bug() -> None:
    raise ZeroDivisionError("division by zero in a route")


def lines_of(capfd: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capfd.readouterr().out.splitlines() if line.strip()]


def entries_of(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines_of(capfd)]


@pytest.fixture
def start(make_settings: Callable[..., Any],
          migrated_sqlite_url: str) -> Callable[..., TestClient]:
    """Build the app now (inside the test, so its logs reach capfd) with the test routes."""
    def build(**settings: Any) -> TestClient:
        if "db_host" not in settings:  # DATABASE_URL would override the DB_* parts
            settings.setdefault("database_url", migrated_sqlite_url)
        app: FastAPI = create_app(make_settings(**{"log_level": "INFO", **settings}))
        app.include_router(noisy)
        return TestClient(app)

    return build


def test_each_record_is_one_json_object_with_the_standard_fields(
        capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG")
    logging.getLogger("cloudnexus.test").debug("plain %s", "text", extra={"bucket": "b1"})
    [line] = lines_of(capfd)
    entry = json.loads(line)
    assert RFC3339_UTC.match(entry["timestamp"])
    assert {key: entry[key] for key in ("level", "message", "logger", "request_id", "bucket")} == {
        "level": "DEBUG", "message": "plain text", "logger": "cloudnexus.test",
        "request_id": None, "bucket": "b1"}
    assert "aws_request_id" not in entry  # only inside a Lambda invocation


def test_a_traceback_stays_inside_its_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    """CloudWatch makes one event per line: a traceback spread over lines would be lost."""
    configure_logging("INFO")
    try:
        raise KeyError("missing")
    except KeyError:
        logging.getLogger("cloudnexus.test").exception("failed")
    [line] = lines_of(capfd)
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and CLOUDWATCH_ERROR_FILTER.search(line)
    assert entry["exception"].startswith("Traceback") and "KeyError: 'missing'" in entry["exception"]


def test_inside_lambda_lines_carry_the_aws_request_id(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    token = aws_request_id_var.set("8f5e2a1c-lambda")
    try:
        logging.getLogger("cloudnexus.test").info("in an invocation")
    finally:
        aws_request_id_var.reset(token)
    logging.getLogger("cloudnexus.test").info("after it")
    inside, after = entries_of(capfd)
    assert inside["aws_request_id"] == "8f5e2a1c-lambda"
    assert "aws_request_id" not in after


@pytest.mark.parametrize(("path", "status"), [("/health", 200), ("/nowhere", 404),
                                              ("/_test/bug", 500)])
def test_one_access_line_per_request(start: Callable[..., TestClient],
                                     capfd: pytest.CaptureFixture[str], path: str,
                                     status: int) -> None:
    response = start().get(path + "?q=1")
    assert response.status_code == status
    access = [entry for entry in entries_of(capfd) if entry["logger"] == "cloudnexus.access"]
    assert len(access) == 1
    assert {key: access[0][key] for key in ("method", "path", "status", "request_id")} == {
        "method": "GET", "path": path, "status": status,
        "request_id": response.headers["x-request-id"]}
    assert isinstance(access[0]["duration_ms"], float) and access[0]["duration_ms"] >= 0


def test_every_line_of_a_request_carries_its_request_id(start: Callable[..., TestClient],
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    client = start()
    first, second = client.get("/_test/work"), client.get("/_test/work")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    ours = [entry for entry in entries_of(capfd) if entry["logger"].startswith("cloudnexus")]
    assert [(entry["logger"], entry["request_id"]) for entry in ours] == [
        ("cloudnexus.test", ids[0]), ("cloudnexus.access", ids[0]),
        ("cloudnexus.test", ids[1]), ("cloudnexus.access", ids[1])]
    assert ours[0]["step"] == 1


def test_only_errors_match_the_cloudwatch_error_filter(start: Callable[..., TestClient],
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    client = start()
    client.get("/health")
    client.get("/nowhere")
    assert not [line for line in lines_of(capfd) if CLOUDWATCH_ERROR_FILTER.search(line)]
    failed = client.get("/_test/bug")
    matching = [json.loads(line) for line in lines_of(capfd)
                if CLOUDWATCH_ERROR_FILTER.search(line)]
    assert [entry["level"] for entry in matching] == ["ERROR"]
    assert matching[0]["request_id"] == failed.headers["x-request-id"]
    assert "ZeroDivisionError" in matching[0]["exception"]


def test_log_level_comes_from_the_settings(start: Callable[..., TestClient],
                                           capfd: pytest.CaptureFixture[str]) -> None:
    client = start(log_level="WARNING")
    client.get("/_test/work")
    assert lines_of(capfd) == []  # INFO lines (access, our own) are dropped
    client.get("/_test/bug")
    assert [entry["level"] for entry in entries_of(capfd)] == ["ERROR"]


def test_aws_sdk_debug_lines_stay_off_even_at_debug(capfd: pytest.CaptureFixture[str]) -> None:
    """botocore's DEBUG lines include signed request headers."""
    configure_logging("DEBUG")
    logging.getLogger("botocore.endpoint").debug("Sending http request: Authorization=AWS4-...")
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTPS connection")
    assert lines_of(capfd) == []


def test_uvicorn_records_come_out_as_json(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:8000",
                                            extra={"color_message": "\x1b[1mcolored\x1b[0m"})
    [entry] = entries_of(capfd)
    assert entry["logger"] == "uvicorn.error" and "color_message" not in entry


def test_the_database_password_never_reaches_the_logs(start: Callable[..., TestClient],
                                                      capfd: pytest.CaptureFixture[str],
                                                      postgres_url: str) -> None:
    """At DEBUG, with the password in DB_PASS and in DATABASE_URL, reachable and not."""
    database = postgres_url.rsplit("/", 1)[1]
    parts = {"db_host": "127.0.0.1", "db_user": "postgres", "db_pass": PASSWORD,
             "db_name": database, "log_level": "DEBUG"}
    closed = free_port()
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{closed}/{database}"
    for settings, statuses in (
            (parts, (200, 401)),  # trust auth: the password is sent and ignored
            ({**parts, "db_port": closed}, (503, 503)),
            ({"database_url": url, "log_level": "DEBUG"}, (503, 503))):
        client = start(**settings)
        health = client.get("/health")
        request = client.get("/v1/workspace", headers={"Authorization": f"Bearer cnx_{'a' * 32}_b"})
        assert (health.status_code, request.status_code) == statuses
        assert PASSWORD not in health.text + request.text
        client.app.state.runtime.close()  # type: ignore[attr-defined]
    captured = capfd.readouterr()
    assert '"status": 503' in captured.out  # the outages above were logged...
    assert PASSWORD not in captured.out + captured.err  # ...without the password


def test_log_format_text_prints_one_readable_line_with_the_request_id(
        start: Callable[..., TestClient], capfd: pytest.CaptureFixture[str]) -> None:
    client = start(log_format="TEXT")
    response = client.get("/_test/work", headers={"X-Request-Id": "req-text-1"})
    work = next(line for line in lines_of(capfd) if "working on it" in line)
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3} INFO +working on it  \[", work)
    assert "request_id=req-text-1" in work and "step=1" in work
    assert response.headers["X-Request-Id"] == "req-text-1"
    with pytest.raises(json.JSONDecodeError):
        json.loads(work)


def test_without_log_format_a_terminal_gets_text_and_a_pipe_gets_json(
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging("INFO")  # stdout is captured: not a terminal
    logging.getLogger("cloudnexus.test").info("to a pipe")
    assert json.loads(lines_of(capfd)[0])["message"] == "to a pipe"
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    configure_logging("INFO")
    logging.getLogger("cloudnexus.test").info("to a terminal")
    [line] = lines_of(capfd)
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3} INFO +to a terminal$", line)


def test_a_bad_log_format_stops_start_up_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"^LOG_FORMAT: "):
        load_settings(log_format="yaml")
