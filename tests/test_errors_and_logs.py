"""Every error in the contract's shape, a request id on every response, JSON logs, CORS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from cloudnexus.app import create_app
from cloudnexus.errors import Conflict
from cloudnexus.logs import configure_logging

boom = APIRouter()


@boom.get("/_boom/app-error")
def app_error() -> None:
    raise Conflict("Already there", details=[{"field": "x"}])


@boom.get("/_boom/bug")
def bug() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@boom.get("/_boom/database")
def database_down() -> None:
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


@pytest.fixture
def app(make_settings: Any) -> Any:
    application = create_app(make_settings(cors_origins="https://app.example"))
    application.include_router(boom)
    return application


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def start_logging() -> None:
    configure_logging("INFO")  # onto the stdout that capfd watches in this test


def logs(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.strip()]


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id",
                                                             "details"}
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    return body["error"]  # type: ignore[no-any-return]


def test_app_error(client: TestClient) -> None:
    response = client.get("/_boom/app-error")
    assert response.status_code == 409
    assert error_of(response) | {"request_id": None} == {
        "code": "conflict", "message": "Already there", "details": [{"field": "x"}],
        "request_id": None}


def test_a_bug_is_500_internal_logged_with_its_traceback_only_in_the_log(
        client: TestClient, capfd: pytest.CaptureFixture[str]) -> None:
    start_logging()
    response = client.get("/_boom/bug")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal" and "hunter2" not in response.text
    assert "Traceback" not in response.text
    entries = logs(capfd)
    logged = [e for e in entries if e["level"] == "ERROR"]
    assert logged and "RuntimeError" in logged[0]["exception"]
    assert logged[0]["request_id"] == error["request_id"]


def test_database_outage_is_503_with_retry_after(client: TestClient) -> None:
    response = client.get("/_boom/database")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert error_of(response)["code"] == "service_unavailable"


def test_unknown_route_405_and_validation(client: TestClient) -> None:
    assert error_of(client.get("/nowhere"))["code"] == "not_found"
    assert error_of(client.put("/health"))["code"] == "method_not_allowed"
    malformed = client.post("/v1/keys", content=b"{not json",
                            headers={"content-type": "application/json"})
    assert malformed.status_code in (400, 401)


def test_request_id_is_kept_from_the_client_when_safe(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-Id": "abc-123"}).headers[
        "x-request-id"] == "abc-123"
    forged = client.get("/health", headers={"X-Request-Id": "x\" injected"})
    assert forged.headers["x-request-id"] != "x\" injected"


def test_every_response_has_nosniff_and_an_id(client: TestClient) -> None:
    for response in (client.get("/health"), client.get("/nowhere"), client.get("/_boom/bug"),
                     client.options("/v1/buckets", headers={
                         "Origin": "https://app.example",
                         "Access-Control-Request-Method": "POST"})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]


def test_one_json_access_line_per_request(client: TestClient,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    start_logging()
    response = client.get("/health?x=1")
    access = [e for e in logs(capfd) if e["logger"] == "cloudnexus.access"]
    assert len(access) == 1
    line = access[0]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/health", 200)
    assert line["duration_ms"] >= 0 and line["request_id"] == response.headers["x-request-id"]
    assert set(line) >= {"timestamp", "level", "message", "logger", "request_id"}
    assert line["timestamp"].endswith("Z")


def test_cors_allows_only_the_configured_origins(client: TestClient) -> None:
    allowed = client.get("/health", headers={"Origin": "https://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "X-Request-Id" in allowed.headers["access-control-expose-headers"]
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options("/v1/buckets", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key"})
    assert preflight.status_code == 200
    error = client.get("/_boom/bug", headers={"Origin": "https://app.example"})
    assert error.headers["access-control-allow-origin"] == "https://app.example"


def test_docs_can_be_turned_off(make_settings: Any) -> None:
    with TestClient(create_app(make_settings(docs_enabled=False))) as client:
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/docs").status_code == 404
    with TestClient(create_app(make_settings())) as client:
        assert client.get("/openapi.json").json()["info"]["title"] == "CloudNexus"
