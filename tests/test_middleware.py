"""What create_app wraps every response in: X-Request-Id, nosniff, CORS from CORS_ORIGINS."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter, Query
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from cloudnexus.app import create_app

ORIGIN = "https://app.example"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")

failures = APIRouter(prefix="/_test")


@failures.get("/bug")
def bug() -> None:
    raise RuntimeError("a bug")


@failures.get("/items")
def items(limit: int = Query(ge=1)) -> list[int]:
    return list(range(limit))


@failures.get("/database")
def database_down() -> None:
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def preflight(client: TestClient, origin: str = ORIGIN, **headers: str) -> Any:
    return client.options("/v1/buckets", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", **headers})


@pytest.fixture
def build(make_settings: Callable[..., Any],
          migrated_sqlite_url: str) -> Callable[..., TestClient]:
    def make(**settings: Any) -> TestClient:
        app = create_app(make_settings(log_level="CRITICAL", database_url=migrated_sqlite_url,
                                       **settings))
        app.include_router(failures)
        return TestClient(app)

    return make


@pytest.fixture
def client(build: Callable[..., TestClient]) -> TestClient:
    return build(cors_origins=ORIGIN)


def every_kind_of_response(client: TestClient) -> dict[str, Any]:
    return {
        "ok": client.get("/health"),
        "not found": client.get("/nowhere"),
        "method not allowed": client.delete("/health"),
        "unauthorized": client.get("/v1/workspace"),
        "validation": client.get("/_test/items?limit=0"),
        "internal": client.get("/_test/bug"),
        "unavailable": client.get("/_test/database"),
        "preflight": preflight(client),
        "refused preflight": preflight(client, "https://evil.example"),
    }


def test_every_response_has_a_request_id_and_nosniff(client: TestClient) -> None:
    responses = every_kind_of_response(client)
    assert responses["validation"].status_code == 422
    assert responses["internal"].status_code == 500
    assert responses["unavailable"].status_code == 503
    assert responses["preflight"].status_code == 200
    for kind, response in responses.items():
        assert GENERATED_ID.match(response.headers.get("x-request-id", "")), kind
        assert response.headers.get("x-content-type-options") == "nosniff", kind
    ids = {response.headers["x-request-id"] for response in responses.values()}
    assert len(ids) == len(responses)  # a new id per request


def test_error_bodies_carry_the_same_request_id(client: TestClient) -> None:
    for kind, response in every_kind_of_response(client).items():
        if response.status_code >= 400 and kind != "refused preflight":
            assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(("sent", "kept"), [
    ("abc-123", True), ("Root=1-abc", False), ("x\" injected", False), ("a" * 129, False),
    ("a" * 128, True), ("req.42_A", True),
])
def test_a_safe_client_request_id_is_kept(client: TestClient, sent: str, kept: bool) -> None:
    returned = client.get("/health", headers={"X-Request-Id": sent}).headers["x-request-id"]
    assert (returned == sent) is kept
    assert kept or GENERATED_ID.match(returned)


def test_cors_allows_only_the_configured_origins(build: Callable[..., TestClient]) -> None:
    client = build(cors_origins=f"{ORIGIN}, https://admin.example")
    for origin in (ORIGIN, "https://admin.example"):
        allowed = client.get("/health", headers={"Origin": origin})
        assert allowed.headers["access-control-allow-origin"] == origin
        assert {"X-Request-Id", "ETag", "Retry-After", "Idempotent-Replayed"} <= set(
            allowed.headers["access-control-expose-headers"].split(", "))
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


def test_a_preflight_allows_the_contracts_headers(client: TestClient) -> None:
    response = preflight(client, **{
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, if-match"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "PATCH" in response.headers["access-control-allow-methods"]


def test_errors_carry_cors_headers_so_browsers_can_read_them(client: TestClient) -> None:
    for path in ("/_test/bug", "/_test/database", "/nowhere", "/v1/workspace"):
        response = client.get(path, headers={"Origin": ORIGIN})
        assert response.status_code >= 400
        assert response.headers["access-control-allow-origin"] == ORIGIN, path


def test_star_allows_any_origin(build: Callable[..., TestClient]) -> None:
    client = build(cors_origins="*")
    response = client.get("/health", headers={"Origin": "https://anyone.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert preflight(client, "https://anyone.example").status_code == 200


def test_no_cors_origins_means_no_cors_headers(build: Callable[..., TestClient]) -> None:
    client = build()
    response = client.get("/health", headers={"Origin": ORIGIN})
    assert not [name for name in response.headers if name.startswith("access-control-")]


def test_a_refused_preflight_is_the_contracts_error(client: TestClient) -> None:
    response = preflight(client, "https://evil.example")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert response.json()["error"]["message"] == "Disallowed CORS origin"


def test_docs_can_be_turned_off(build: Callable[..., TestClient]) -> None:
    hidden = build(docs_enabled=False)
    assert hidden.get("/openapi.json").status_code == 404
    assert hidden.get("/docs").json()["error"]["code"] == "not_found"
    shown = build()
    assert shown.get("/openapi.json").json()["info"]["title"] == "CloudNexus"
    assert shown.get("/docs").status_code == 200
