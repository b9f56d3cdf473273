"""GET /health: real checks of the database and the storage, 503 naming the one that failed,
and recovery without a restart once the database is back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloudnexus import __version__
from cloudnexus.app import create_app
from cloudnexus.migrations import head_revision, upgrade
from tests.conftest import TEST_BUCKET, free_port, new_postgres_database
from tests.tcp_proxy import TcpProxy

PASSWORD = "pw-never-in-health"
UNKNOWN_KEY = {"Authorization": f"Bearer cnx_{'a' * 32}_x"}


def assert_healthy(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert (body["status"], body["version"]) == ("ok", __version__)
    assert set(body["checks"]) == {"database", "storage", "schema"}
    for check in body["checks"].values():
        assert check["status"] == "ok" and "error" not in check
        assert isinstance(check["latency_ms"], float) and check["latency_ms"] >= 0
    return body


def test_health_is_ok_on_every_stack(stack_client: TestClient) -> None:
    """SQLite or PostgreSQL, with the local folder or S3 (moto)."""
    assert_healthy(stack_client.get("/health"))


def test_the_embedded_default_needs_no_configuration(make_settings: Callable[..., Any]) -> None:
    settings = make_settings()  # no DB_*, no DATABASE_URL, no S3_BUCKET
    assert settings.uses_embedded_database and settings.uses_local_storage
    app = create_app(settings)
    upgrade(app.state.runtime.engine)  # as `cloudnexus serve` does on the embedded default
    with TestClient(app) as client:
        assert_healthy(client.get("/health"))
    app.state.runtime.close()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_an_unmigrated_database_is_503_naming_migrate_until_migrated(
        database: str, make_settings: Callable[..., Any], tmp_path: Any) -> None:
    with ExitStack() as stack:
        url = (f"sqlite:///{tmp_path / 'empty.db'}" if database == "sqlite" else
               stack.enter_context(new_postgres_database(f"cloudnexus_h_{uuid.uuid4().hex[:12]}")))
        app = create_app(make_settings(database_url=url, log_level="CRITICAL"))
        stack.callback(app.state.runtime.close)
        client = TestClient(app)
        missing = client.get("/health")
        assert missing.status_code == 503 and missing.headers["Retry-After"]
        assert missing.json()["checks"]["database"]["status"] == "ok"
        assert missing.json()["checks"]["schema"]["error"] == (
            "the database has no CloudNexus schema yet: run `cloudnexus migrate`")
        upgrade(app.state.runtime.engine, "0005")
        behind = client.get("/health").json()["checks"]["schema"]["error"]
        assert behind == ("the database schema is at 0005, this code needs "
                          f"{head_revision()}: run `cloudnexus migrate`")
        upgrade(app.state.runtime.engine)
        assert_healthy(client.get("/health"))


@pytest.fixture
def proxied_postgres(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """DATABASE_URL for the test database, through a proxy the test can cut."""
    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = postgres_url.replace("postgres@127.0.0.1:5432",
                                   f"postgres:{PASSWORD}@127.0.0.1:{proxy.port}")
        assert str(proxy.port) in url
        yield proxy, url


@pytest.fixture
def app_on(make_settings: Callable[..., Any]) -> Iterator[Callable[[str], TestClient]]:
    apps: list[Any] = []

    def build(database_url: str) -> TestClient:
        apps.append(create_app(make_settings(database_url=database_url, log_level="CRITICAL")))
        return TestClient(apps[-1])

    yield build
    for app in apps:
        app.state.runtime.close()


def test_postgres_going_away_is_503_then_ok_again_without_a_restart(
        app_on: Callable[[str], TestClient], proxied_postgres: tuple[TcpProxy, str]) -> None:
    proxy, url = proxied_postgres
    client = app_on(url)
    assert_healthy(client.get("/health"))  # leaves a pooled connection through the proxy

    proxy.stop()
    started = time.monotonic()
    down = client.get("/health")
    assert time.monotonic() - started < 6
    assert down.status_code == 503 and int(down.headers["retry-after"]) > 0
    body = down.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "unavailable"
    assert body["checks"]["database"]["error"].startswith("OperationalError")
    assert body["checks"]["storage"]["status"] == "ok"
    assert PASSWORD not in down.text

    proxy.start()  # same port, same app, same engine
    assert_healthy(client.get("/health"))


def test_requests_during_an_outage_are_503_and_recover(
        app_on: Callable[[str], TestClient], proxied_postgres: tuple[TcpProxy, str]) -> None:
    proxy, url = proxied_postgres
    client = app_on(url)
    assert client.get("/v1/workspace", headers=UNKNOWN_KEY).status_code == 401
    proxy.stop()
    response = client.get("/v1/workspace", headers=UNKNOWN_KEY)
    assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "service_unavailable"
    proxy.start()
    assert client.get("/v1/workspace", headers=UNKNOWN_KEY).status_code == 401


def test_a_closed_port_is_503_quickly(app_on: Callable[[str], TestClient]) -> None:
    client = app_on(f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/test")
    started = time.monotonic()
    response = client.get("/health")
    assert time.monotonic() - started < 3  # refused at once, not the 5 s connect timeout
    assert response.status_code == 503
    database = response.json()["checks"]["database"]
    assert database["status"] == "unavailable" and "refused" in database["error"].lower()
    assert PASSWORD not in response.text


def test_unreachable_storage_is_503_naming_storage(make_settings: Callable[..., Any],
                                                   database_url: str) -> None:
    settings = make_settings(database_url=database_url, s3_bucket="cloudnexus-test",
                             s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
                             log_level="CRITICAL")
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.get("/health")
    app.state.runtime.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["storage"]["status"] == "unavailable" and body["checks"]["storage"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.parametrize("path, answer", [
    ("/v1/workspace", 401),  # the key check: the read API (cloudnexus.db.reads)
    ("/health", 200),  # the ORM's pool
])
@pytest.mark.parametrize("pinged", [True, False])
def test_a_connection_that_died_while_idle_is_pinged_and_replaced(
        app_on: Callable[[str], TestClient], proxied_postgres: tuple[TcpProxy, str],
        monkeypatch: pytest.MonkeyPatch, path: str, answer: int, pinged: bool) -> None:
    """The database restarts while the app is quiet: a connection idle for longer than
    PING_AFTER_IDLE_SECONDS is pinged before use and replaced, so the next request succeeds;
    without the ping (a connection still considered fresh) it would be the request that fails."""
    from cloudnexus.db import connections

    monkeypatch.setattr(connections, "PING_AFTER_IDLE_SECONDS", 0.0 if pinged else 3600.0)
    proxy, url = proxied_postgres
    with app_on(url) as client:  # one event loop for both requests, as a server runs
        assert client.get(path, headers=UNKNOWN_KEY).status_code == answer
        proxy.stop()
        proxy.start()  # nothing asked in between: the app still holds the dead connection
        assert client.get(path, headers=UNKNOWN_KEY).status_code == (answer if pinged else 503)


def test_postgres_cut_mid_load_is_503s_then_200s_with_nothing_hung(
        app_on: Callable[[str], TestClient], proxied_postgres: tuple[TcpProxy, str]) -> None:
    """Eight clients reading in a loop while the database is cut and brought back: each
    answer is a 200 or a 503 with Retry-After, none takes longer than the connect timeout
    allows, and reads succeed again once it is back, with the same app."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import Tenant

    proxy, url = proxied_postgres
    client = app_on(url)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    headers = Tenant(runtime, f"mid-load-{time.monotonic_ns()}").headers()
    answers: list[tuple[float, int, bool, float]] = []  # when, status, retry-after, seconds
    started = time.monotonic()

    def read_until(deadline: float) -> None:
        while time.monotonic() < deadline:
            sent = time.monotonic()
            response = client.get("/v1/workspace", headers=headers)
            answers.append((sent - started, response.status_code,
                            "retry-after" in response.headers, time.monotonic() - sent))

    with ThreadPoolExecutor(8) as pool:
        readers = [pool.submit(read_until, started + 4.0) for _ in range(8)]
        time.sleep(1.0)
        proxy.stop()
        time.sleep(1.5)
        proxy.start()
        for reader in readers:
            reader.result()
    statuses = {status for _, status, _, _ in answers}
    assert statuses <= {200, 503}, statuses
    assert 503 in statuses and 200 in statuses
    assert all(retry for _, status, retry, _ in answers if status == 503)
    assert max(seconds for *_, seconds in answers) < 6  # connect timeout 5 s, nothing hangs
    late = [status for when, status, _, seconds in answers if when > 3.0]
    assert late and set(late) == {200}  # back, without a restart


def test_a_good_storage_answer_is_reused_for_its_ttl_and_a_failure_never(
        make_settings: Callable[..., Any], database_url: str, moto_endpoint: str) -> None:
    """HEALTH_STORAGE_TTL: the storage's last good answer stands for that long (its age_s
    says how old); once the storage is gone, /health says so within the TTL, and every call
    asks again until it answers."""
    ttl = 3.0  # room for a busy machine between two requests
    moto_port = int(moto_endpoint.rsplit(":", 1)[1])
    with TcpProxy("127.0.0.1", moto_port) as proxy:
        settings = make_settings(database_url=database_url, s3_bucket=TEST_BUCKET,
                                 s3_endpoint_url=f"http://127.0.0.1:{proxy.port}",
                                 health_storage_ttl=ttl, log_level="CRITICAL")
        app = create_app(settings)
        with TestClient(app) as client:
            fresh = assert_healthy(client.get("/health"))["checks"]["storage"]
            reused = assert_healthy(client.get("/health"))["checks"]["storage"]
            assert "age_s" not in fresh and 0 <= reused["age_s"] < ttl
            assert reused["latency_ms"] == fresh["latency_ms"]
            proxy.stop()
            assert assert_healthy(client.get("/health"))["checks"]["storage"]["age_s"] < ttl
            time.sleep(ttl + 0.1)
            for _ in range(2):  # a failure is not reused
                down = client.get("/health")
                assert down.status_code == 503
                assert down.json()["checks"]["storage"]["status"] == "unavailable"
            proxy.start()
            assert "age_s" not in assert_healthy(client.get("/health"))["checks"]["storage"]
        app.state.runtime.close()


def test_a_ttl_of_zero_asks_the_storage_every_time(make_settings: Callable[..., Any],
                                                   database_url: str) -> None:
    app = create_app(make_settings(database_url=database_url, health_storage_ttl=0))
    upgrade(app.state.runtime.engine)
    with TestClient(app) as client:
        for _ in range(2):
            assert "age_s" not in assert_healthy(client.get("/health"))["checks"]["storage"]
    app.state.runtime.close()
