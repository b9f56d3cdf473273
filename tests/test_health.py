"""GET /health: real checks of the database and the storage, 503 naming the one that failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloudnexus.app import create_app
from tests.conftest import POSTGRES_ADMIN_URL, free_port
from tests.tcp_proxy import TcpProxy


def test_health_is_ok_on_every_stack(stack_client: Any) -> None:
    response = stack_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["version"]
    for name in ("database", "storage"):
        assert body["checks"][name]["status"] == "ok"
        assert body["checks"][name]["latency_ms"] >= 0


def test_embedded_default_needs_no_configuration(make_settings: Any) -> None:
    settings = make_settings()
    assert settings.uses_embedded_database and settings.uses_local_storage
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["checks"]["database"]["status"] == "ok"


@pytest.fixture
def proxied_postgres(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    proxy = TcpProxy("127.0.0.1", 5432).start()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert url != postgres_url and POSTGRES_ADMIN_URL.count("127.0.0.1:5432")
    yield proxy, url
    proxy.stop()


def test_postgres_going_away_is_503_then_ok_again_without_restart(
        make_settings: Any, proxied_postgres: tuple[TcpProxy, str]) -> None:
    proxy, url = proxied_postgres
    app = create_app(make_settings(database_url=url))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        proxy.stop()
        started = time.monotonic()
        down = client.get("/health")
        assert time.monotonic() - started < 10
        assert down.status_code == 503 and down.headers["retry-after"]
        body = down.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"]["status"] == "unavailable"
        assert body["checks"]["database"]["error"]
        assert body["checks"]["storage"]["status"] == "ok"
        proxy.start()
        assert client.get("/health").status_code == 200
    app.state.runtime.close()


def test_closed_port_is_503_quickly(make_settings: Any) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    app = create_app(make_settings(database_url=url))
    with TestClient(app) as client:
        started = time.monotonic()
        response = client.get("/health")
        assert time.monotonic() - started < 6
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "unavailable"
    assert "refused" in response.json()["checks"]["database"]["error"].lower()


def test_unreachable_storage_is_503_naming_storage(make_settings: Any, database_url: str) -> None:
    settings = make_settings(database_url=database_url, s3_bucket="cloudnexus-test",
                             s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(settings)) as client:
        body = client.get("/health").json()
    assert body["status"] == "unavailable"
    assert body["checks"]["storage"]["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "ok"


def test_requests_during_an_outage_are_503_with_retry_after(
        make_settings: Any, proxied_postgres: tuple[TcpProxy, str]) -> None:
    proxy, url = proxied_postgres
    app = create_app(make_settings(database_url=url))
    with TestClient(app) as client:
        proxy.stop()
        response = client.get("/v1/workspace", headers={"Authorization": f"Bearer cnx_{'a' * 32}_x"})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
        assert response.headers["retry-after"]
        proxy.start()
        assert client.get("/v1/workspace", headers={
            "Authorization": f"Bearer cnx_{'a' * 32}_x"}).status_code == 401
    app.state.runtime.close()
