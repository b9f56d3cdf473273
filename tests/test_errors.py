"""Every error in the contract's shape: {"error": {"code", "message", "request_id", "details"}}.

A router that exists only in these tests raises each kind of failure inside an app made by
create_app, so what is checked is the real middleware and handlers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from botocore.exceptions import EndpointConnectionError
from fastapi import APIRouter, FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from cloudnexus.app import create_app
from cloudnexus.errors import AppError, Conflict
from cloudnexus.logs import configure_logging
from tests.conftest import Tenant

SECRET = "hunter2-internal-detail"


class Teapot(AppError):
    status, code, message = 418, "teapot", "I am a teapot"


class Item(BaseModel):
    name: str = Field(max_length=10)
    count: int = Field(ge=1)


def raising(exc: BaseException) -> Callable[[], None]:
    def route() -> None:
        raise exc

    return route


failures = APIRouter(prefix="/_test")
failures.add_api_route("/conflict", raising(Conflict("Path already taken",
                                                     details=[{"path": "a.txt"}])))
failures.add_api_route("/teapot", raising(Teapot()))
failures.add_api_route("/bug", raising(RuntimeError(f"password={SECRET}")))
failures.add_api_route("/http-exception", raising(HTTPException(404, "gone")))
failures.add_api_route("/database", raising(OperationalError(
    "SELECT 1", {}, Exception(f"connection refused, password={SECRET}"))))
failures.add_api_route("/psycopg", raising(psycopg.OperationalError("connection failed")))
failures.add_api_route("/storage", raising(EndpointConnectionError(
    endpoint_url="http://127.0.0.1:1/bucket")))


@failures.post("/items", status_code=201)
def create_item(item: Item, limit: int = Query(10, ge=1, le=1000)) -> Item:
    return item


@pytest.fixture
def failing_app(make_settings: Callable[..., Any]) -> FastAPI:
    """create_app's app plus the routes that fail."""
    application = create_app(make_settings(log_level="INFO"))
    application.include_router(failures)
    return application


@pytest.fixture
def api(failing_app: FastAPI) -> Iterator[TestClient]:
    # raise_server_exceptions stays on: an exception escaping the app would fail the test.
    with TestClient(failing_app) as api:
        yield api


def error_of(response: Any) -> dict[str, Any]:
    """The error object, after checking the shape and that the id is the response's."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert list(body["error"]) == ["code", "message", "request_id", "details"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    assert isinstance(body["error"]["details"], list)
    return body["error"]  # type: ignore[no-any-return]


def log_lines(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON lines written since configure_logging was called in this test."""
    return [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.strip()]


def test_an_app_error_renders_its_status_code_message_and_details(api: TestClient) -> None:
    response = api.get("/_test/conflict")
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["message"], error["details"]) == (
        "conflict", "Path already taken", [{"path": "a.txt"}])


def test_any_subclass_of_app_error_is_rendered(api: TestClient) -> None:
    response = api.get("/_test/teapot")
    assert response.status_code == 418
    assert error_of(response)["code"] == "teapot"


def test_a_bug_is_500_internal_with_the_traceback_only_in_the_log(
        api: TestClient, capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")  # onto the stdout capfd watches during the test itself
    response = api.get("/_test/bug")
    assert response.status_code == 500
    error = error_of(response)
    assert (error["code"], error["message"]) == ("internal", "Internal server error")
    assert SECRET not in response.text and "Traceback" not in response.text
    logged = [line for line in log_lines(capfd) if line["level"] == "ERROR"]
    assert len(logged) == 1
    assert logged[0]["request_id"] == error["request_id"]
    assert logged[0]["exception"].startswith("Traceback (most recent call last)")
    assert "RuntimeError" in logged[0]["exception"] and "in route" in logged[0]["exception"]


@pytest.mark.parametrize(("path", "dependency"), [
    ("/_test/database", "database"), ("/_test/psycopg", "database"), ("/_test/storage", "storage"),
])
def test_a_dependency_outage_is_503_with_retry_after(api: TestClient, path: str,
                                                     dependency: str) -> None:
    response = api.get(path)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    error = error_of(response)
    assert error["code"] == "service_unavailable"
    assert dependency in error["message"] and SECRET not in response.text


def test_unknown_route_is_not_found(api: TestClient) -> None:
    response = api.get("/no/such/route")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_an_http_exception_raised_by_a_route_is_rendered(api: TestClient) -> None:
    response = api.get("/_test/http-exception")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_405_with_allow(api: TestClient) -> None:
    response = api.delete("/health")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET"


def test_invalid_fields_are_422_validation_error_listing_each(api: TestClient) -> None:
    response = api.post("/_test/items?limit=0", json={"name": "x" * 11, "count": "many"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    by_location = {tuple(detail["loc"]): detail for detail in error["details"]}
    assert set(by_location) == {("body", "name"), ("body", "count"), ("query", "limit")}
    assert by_location[("body", "count")]["type"] == "int_parsing"
    assert all(detail["message"] for detail in error["details"])


def test_a_valid_request_to_the_same_route_passes(api: TestClient) -> None:
    response = api.post("/_test/items", json={"name": "ok", "count": 1})
    assert response.status_code == 201 and response.json() == {"name": "ok", "count": 1}


@pytest.mark.parametrize("body", [b"{not json", b'{"name": "a",}', b"\xff\xfe"])
def test_malformed_json_is_400_bad_request(api: TestClient, body: bytes) -> None:
    response = api.post("/_test/items", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_errors_are_json_even_when_html_is_asked_for(api: TestClient) -> None:
    for path in ("/no/such/route", "/_test/bug"):
        response = api.get(path, headers={"Accept": "text/html"})
        assert error_of(response)["code"] in ("not_found", "internal")


def test_a_contract_route_validates_the_same_way(client: Any, tenant: Tenant) -> None:
    """The real POST /v1/buckets (conftest's app on SQLite and PostgreSQL)."""
    invalid = client.post("/v1/buckets", json={"name": "Not Valid!"}, headers=tenant.headers())
    assert invalid.status_code == 422
    assert [detail["loc"] for detail in error_of(invalid)["details"]] == [["body", "name"]]
    malformed = client.post("/v1/buckets", content=b"{", headers={
        **tenant.headers(), "content-type": "application/json"})
    assert malformed.status_code == 400 and error_of(malformed)["code"] == "bad_request"


@pytest.mark.parametrize(("headers", "got"), [
    ({}, "no Content-Type was sent"),
    ({"content-type": "text/plain"}, "got 'text/plain'"),
    ({"content-type": "application/x-www-form-urlencoded"},
     "got 'application/x-www-form-urlencoded'")])
def test_a_body_sent_without_the_json_header_is_told_to_send_it(
        client: Any, tenant: Tenant, headers: dict[str, str], got: str) -> None:
    response = client.post("/v1/buckets", content=b'{"name": "photos"}',
                           headers={**tenant.headers(), **headers})
    assert response.status_code == 400 and error_of(response)["code"] == "bad_request"
    assert error_of(response)["message"] == (
        f"Send the body as JSON with the header Content-Type: application/json ({got})")


def test_a_missing_bucket_is_named(client: Any, tenant: Tenant) -> None:
    for path in ("/v1/buckets/no-such", "/v1/buckets/no-such/files"):
        missing = client.get(path, headers=tenant.headers())
        assert missing.status_code == 404
        assert error_of(missing)["message"] == "Bucket 'no-such' not found"
    long = client.get("/v1/buckets/" + "x" * 300, headers=tenant.headers())
    assert error_of(long)["message"] == f"Bucket '{'x' * 62}…' not found"
