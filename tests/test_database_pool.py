"""The process's one pool of PostgreSQL connections (cloudnexus.db.pool): connections are
reused across requests and event loops, and closed at shutdown, not left open on the server."""

from __future__ import annotations

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
    assert not ours & open_connections()  # closed at the app's shutdown


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
    assert not ours & open_connections()


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
