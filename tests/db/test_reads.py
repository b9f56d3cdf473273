"""The read API (cloudnexus.db.reads): on PostgreSQL a read that can start at once is awaited
on the event loop; one that would wait, connect or ping runs in a worker thread, as every
read on SQLite does (its engine's pool can run out: db/reads.py says why)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cloudnexus.db import connections, reads
from tests.conftest import Tenant

WORKER = "AnyIO worker thread"  # the name anyio gives its worker threads


@contextmanager
def read_threads() -> Iterator[list[str]]:
    """The name of the thread each statement of the read API ran in (or was awaited in)."""
    names: list[str] = []
    rows = reads._rows
    with pytest.MonkeyPatch.context() as patch:
        from cloudnexus.db.pool import Pool

        fetch, fetch_ready = Pool.fetch, Pool.fetch_ready

        def blocking(self: Pool, *args: Any, **kwargs: Any) -> Any:
            names.append(threading.current_thread().name)
            return fetch(self, *args, **kwargs)

        async def awaited(self: Pool, *args: Any, **kwargs: Any) -> Any:
            names.append(threading.current_thread().name)
            return await fetch_ready(self, *args, **kwargs)

        def on_sqlite(*args: Any) -> Any:
            names.append(threading.current_thread().name)
            return rows(*args)

        patch.setattr(Pool, "fetch", blocking)
        patch.setattr(Pool, "fetch_ready", awaited)
        patch.setattr(reads, "_rows", on_sqlite)
        yield names


def test_a_warm_read_runs_on_the_event_loop_on_postgresql(
        app: Any, client: Any, tenant: Tenant) -> None:
    assert client.get("/v1/workspace", headers=tenant.headers()).status_code == 200
    with read_threads() as names:
        assert client.get("/v1/workspace", headers=tenant.headers()).status_code == 200
    on_loop = app.state.runtime.settings.uses_postgresql
    assert names and (WORKER not in names) == on_loop, names


def test_a_page_and_its_key_are_awaited_on_the_event_loop(
        app: Any, client: Any, tenant: Tenant) -> None:
    """On PostgreSQL a page's statement (read_many), whose JSON the database makes, is
    awaited on the loop like the key's (read_one, the bucket beside it): neither holds it."""
    if not app.state.runtime.settings.uses_postgresql:
        pytest.skip("SQLite reads everything in worker threads")
    assert client.post("/v1/buckets", json={"name": "docs"},
                       headers=tenant.headers()).status_code == 201
    listed = "/v1/buckets/docs/files?limit=10"
    assert client.get(listed, headers=tenant.headers()).status_code == 200
    with read_threads() as names:
        assert client.get(listed, headers=tenant.headers()).status_code == 200
    assert len(names) == 2 and WORKER not in names, names


def test_a_read_that_needs_a_ping_runs_in_a_worker_thread(
        app: Any, client: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a connection idle for a while is pinged first; with every connection
    that old, the read goes to a worker thread (a dead database must not stop the loop)."""
    if not app.state.runtime.settings.uses_postgresql:
        pytest.skip("SQLite opens no connections over a network")
    assert client.get("/v1/workspace", headers=tenant.headers()).status_code == 200
    monkeypatch.setattr(connections, "PING_AFTER_IDLE_SECONDS", 0.0)
    with read_threads() as names:
        assert client.get("/v1/workspace", headers=tenant.headers()).status_code == 200
    assert names and set(names) == {WORKER}, names


@pytest.mark.parametrize("path", ["/v1/files/{id}", "/v1/buckets/docs/files?limit=10"])
def test_a_read_beside_the_key_answers_what_its_own_read_would(
        app: Any, client: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch,
        path: str) -> None:
    """On PostgreSQL the key's statement also reads the file or the bucket the path names
    (read_one_beside); the route then answers exactly what it answers with a read of its
    own, in one statement less."""
    from cloudnexus.auth import lookup
    from tests.test_sql_statements import counted_statements

    assert client.post("/v1/buckets", json={"name": "docs"},
                       headers=tenant.headers()).status_code == 201
    made = client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                       data={"metadata": '{"a": [1, "x"]}', "tags": ["t"]},
                       files={"file": ("a.txt", b"abc", "text/plain")})
    assert made.status_code == 201, made.text
    url = path.format(id=made.json()["id"])
    with counted_statements(app.state.runtime) as beside:
        read_beside = client.get(url, headers=tenant.headers())
    monkeypatch.setattr(lookup, "read_next", lambda request: None)
    with counted_statements(app.state.runtime) as apart:
        read_apart = client.get(url, headers=tenant.headers())
    assert read_beside.status_code == read_apart.status_code == 200
    assert read_beside.json() == read_apart.json()
    assert len(beside) == len(apart) - app.state.runtime.settings.uses_postgresql, (beside, apart)
