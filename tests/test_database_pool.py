"""The process's one pool of PostgreSQL connections (cloudnexus.db.pool): connections are
reused across requests and event loops, and closed at shutdown, not left open on the server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cloudnexus.app import create_app
from cloudnexus.db.connections import APPLICATION_NAME

UNKNOWN_KEY = {"Authorization": f"Bearer cnx_{'a' * 32}_x"}  # 401: the key check alone


@pytest.fixture
def open_connections(postgres_url: str) -> Iterator[Any]:
    """The server processes of the app's connections in this database, now (by pid: those of
    earlier tests' apps may still be closing while a test counts)."""
    engine = create_engine(postgres_url)
    query = text("SELECT pid FROM pg_stat_activity "
                 "WHERE datname = current_database() AND application_name = :name")

    def pids() -> set[int]:
        with engine.connect() as connection:
            return set(connection.execute(query, {"name": APPLICATION_NAME}).scalars())

    yield pids
    engine.dispose()


def gone(pids: set[int], open_connections: Any, seconds: float = 5) -> bool:
    """Whether these server processes have left pg_stat_activity: a backend leaves it a
    moment after its client closed the connection, so a loaded machine is given a few
    seconds."""
    deadline = time.monotonic() + seconds
    while pids & open_connections():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def app(make_settings: Any, postgres_url: str) -> Iterator[Any]:
    application = create_app(make_settings(database_url=postgres_url, log_level="WARNING"))
    yield application
    application.state.runtime.close()


def test_one_event_loop_reuses_one_connection(app: Any, open_connections: Any) -> None:
    before = open_connections()
    with TestClient(app) as client:  # one event loop, as uvicorn and Mangum run
        for _ in range(20):
            assert client.get("/v1/workspace", headers=UNKNOWN_KEY).status_code == 401
        ours = open_connections() - before
        assert len(ours) == 1
    assert gone(ours, open_connections)  # closed at the app's shutdown


def test_connections_of_event_loops_that_ended_are_closed(app: Any,
                                                          open_connections: Any) -> None:
    """A client without a lifespan runs each request in a new event loop and never shuts the
    app down: the loops share one connection, closed with the runtime."""
    before = open_connections()
    client = TestClient(app)
    for _ in range(10):
        assert client.get("/v1/workspace", headers=UNKNOWN_KEY).status_code == 401
    ours = open_connections() - before
    assert len(ours) <= 1
    app.state.runtime.close()
    assert gone(ours, open_connections)


def test_the_key_check_and_the_orm_share_one_connection(app: Any, open_connections: Any) -> None:
    """A request checks its key through the read API and then lists buckets through the ORM:
    requests one after another (as in a Lambda container) hold one connection between them,
    not one per kind of query."""
    from tests.conftest import Tenant

    before = open_connections()
    headers = Tenant(app.state.runtime, "one-pool").headers()  # through the ORM, made here
    with TestClient(app) as client:
        for _ in range(10):
            assert client.get("/v1/buckets", headers=headers).status_code == 200
        assert len(open_connections() - before) == 1


@pytest.mark.parametrize("prepared", [True, False])
def test_hot_statements_are_prepared_unless_turned_off(
        make_settings: Any, postgres_url: str, prepared: bool) -> None:
    """DB_PREPARED_STATEMENTS (on by default): a statement sent again on a connection is
    prepared there and planned once; off (behind RDS Proxy), nothing is ever prepared."""
    from tests.conftest import Tenant

    app = create_app(make_settings(database_url=postgres_url, log_level="WARNING",
                                   db_prepared_statements=prepared))
    try:
        headers = Tenant(app.state.runtime, f"prepared-{prepared}".lower()).headers()
        with TestClient(app) as client:
            assert client.post("/v1/buckets", json={"name": "docs"},
                               headers=headers).status_code == 201
            for _ in range(5):  # routes that only read leave no transaction to roll back,
                # which would make psycopg deallocate every prepared statement
                for route in ("/v1/buckets/docs/files", "/v1/buckets", "/v1/buckets/docs"):
                    assert client.get(route, headers=headers).status_code == 200
            # On the one connection those requests took turns on (it is idle now).
            statements = [row["statement"] for row in app.state.runtime.postgres_pool.fetch(
                "SELECT statement FROM pg_prepared_statements", {})]
        key_check = [text for text in statements if "FROM api_keys" in text]
        # The key read beside the bucket (the first and third routes), and alone (the second).
        assert len(key_check) == (2 if prepared else 0)
        assert prepared or statements == []
    finally:
        app.state.runtime.close()
