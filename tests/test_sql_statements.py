"""An authenticated read costs at most 2 SQL statements: the key, then the resource. On
PostgreSQL, where each is a round trip, the key's statement also reads the bucket or the file
the path names (db.reads.read_one_beside)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from cloudnexus.db import engine
from cloudnexus.db.pool import Pool
from cloudnexus.limits import AT_ONCE_MAX_BYTES
from tests.conftest import Tenant


@contextmanager
def counted_statements(runtime: Any) -> Iterator[list[str]]:
    """Every statement the app sends: through the ORM's engine, through the read API's
    psycopg calls (db.pool, blocking or awaited), and through db.engine.fetch_at_once's."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's explicit BEGIN IMMEDIATE is no query
            statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", record)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("fetch", "execute"):
            sends = getattr(Pool, name)

            def counted(self: Pool, sql: str, params: Any, *args: Any,
                        sends: Any = sends, **kwargs: Any) -> Any:
                statements.append(sql)
                return sends(self, sql, params, *args, **kwargs)

            patch.setattr(Pool, name, counted)
        fetch_ready = Pool.fetch_ready

        async def awaited(self: Pool, connection: Any, sql: str, *args: Any,
                          **kwargs: Any) -> Any:
            statements.append(sql)
            return await fetch_ready(self, connection, sql, *args, **kwargs)

        patch.setattr(Pool, "fetch_ready", awaited)
        send = engine.send

        def sent(cursor: Any, sql: str, values: Any) -> None:
            statements.append(sql)
            send(cursor, sql, values)

        patch.setattr(engine, "send", sent)
        try:
            yield statements
        finally:
            event.remove(runtime.engine, "before_cursor_execute", record)


@pytest.fixture
def file_id(client: Any, tenant: Tenant) -> str:
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    created = client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                          files={"file": ("a.txt", b"abc", "text/plain")})
    return str(created.json()["id"])


def budget_of(app: Any, budgets: tuple[int, int]) -> int:
    """(on SQLite, on PostgreSQL)"""
    return budgets[1] if app.state.runtime.settings.uses_postgresql else budgets[0]


@pytest.mark.parametrize("path, budgets", [
    ("/v1/files/{id}", (2, 1)), ("/v1/files/{id}/content", (2, 1)),
    ("/v1/buckets/docs", (2, 2)), ("/v1/workspace", (2, 2)),
    ("/v1/buckets/docs/files?limit=100", (3, 2)),  # the key, the bucket, the page
    ("/v1/buckets/docs/files?limit=100&sort=size", (3, 2)),
])
def test_an_authenticated_read_is_at_most_two_statements(
        app: Any, client: Any, tenant: Tenant, file_id: str, path: str,
        budgets: tuple[int, int]) -> None:
    url = path.format(id=file_id)
    read = {"headers": tenant.headers(), "follow_redirects": False}
    assert client.get(url, **read).status_code in (200, 302)  # the key's last use is recorded
    with counted_statements(app.state.runtime) as statements:
        assert client.get(url, **read).status_code in (200, 302)
    assert statements, "nothing was counted"
    assert len(statements) <= budget_of(app, budgets), statements


def test_the_key_check_records_use_at_most_once_a_minute(
        app: Any, client: Any, tenant: Tenant) -> None:
    """The first request of a fresh key writes last_used_at; the next ones only read."""
    with counted_statements(app.state.runtime) as first:
        assert client.get("/v1/workspace", headers=tenant.headers()).status_code == 200
    with counted_statements(app.state.runtime) as second:
        assert client.get("/v1/workspace", headers=tenant.headers()).status_code == 200
    assert any("UPDATE api_keys" in statement for statement in first), first
    assert not any("UPDATE api_keys" in statement for statement in second), second



@pytest.mark.parametrize("method, path, budgets", [
    ("GET", "/health", (1, 1)),  # SELECT 1 (the schema is checked once per process)
    # the key, the bucket; the quota held (returning, read under its lock, the bucket's
    # visibility again and the file at the path); the upload's row. On PostgreSQL the key
    # and the bucket are one statement, and so are the hold and the row (no transaction).
    ("POST", "/v1/buckets/docs/uploads", (4, 2)),
])
def test_each_warm_route_keeps_its_statement_budget(
        app: Any, client: Any, tenant: Tenant, file_id: str, method: str, path: str,
        budgets: tuple[int, int]) -> None:
    """The other rows of the warm benchmark (bench/warm.py) beside the reads above: what each
    costs in statements, on both databases."""
    def send() -> int:
        body = {"path": f"new-{uuid.uuid4().hex}.bin", "size": 10, "content_type": "text/plain"}
        return int(client.request(method, path, headers=tenant.headers(),
                                  json=body if method == "POST" else None).status_code)

    assert send() in (200, 201)  # warm: the key's use recorded, the schema seen
    with counted_statements(app.state.runtime) as statements:
        assert send() in (200, 201)
    assert statements, "nothing was counted"
    assert len(statements) <= budget_of(app, budgets), statements



def test_a_small_direct_upload_keeps_its_statement_budget(
        app: Any, client: Any, tenant: Tenant, file_id: str) -> None:
    """The key and the bucket (one statement on PostgreSQL), before the body (through the
    read API); then on SQLite a file at the path, the file, the workspace's and the bucket's
    counts (the bucket's returning its visibility under the count's lock) and the file's
    event; on PostgreSQL the path's lock, the file, the counts and the event, as one
    statement (the path's own unique key finds a file there). (Begin and commit are not
    counted.)"""
    def send() -> int:
        return int(client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                               data={"path": f"n-{uuid.uuid4().hex}.txt"},
                               files={"file": ("a.txt", b"abc", "text/plain")}).status_code)

    assert send() == 201
    with counted_statements(app.state.runtime) as statements:
        assert send() == 201
    assert statements, "nothing was counted"
    assert len(statements) <= budget_of(app, (7, 2)), statements
    assert sum("FROM buckets" in statement for statement in statements) <= 1, statements


@pytest.mark.parametrize("size, sent_by", [
    (3, "fetch_at_once_awaited"),  # small, to the local disk: stored and recorded on the loop
    (AT_ONCE_MAX_BYTES + 1, "fetch_at_once"),  # larger: in a worker thread
])
def test_a_new_file_is_one_statement_in_a_transaction_of_its_own_on_postgresql(
        app: Any, client: Any, tenant: Tenant, file_id: str,
        monkeypatch: pytest.MonkeyPatch, size: int, sent_by: str) -> None:
    """The path's lock, the file, the counts and the event are one statement, run in a
    transaction of its own (db.engine.fetch_at_once, or fetch_at_once_awaited from the event
    loop): one round trip, no BEGIN and no COMMIT, where each part took one."""
    if not app.state.runtime.settings.uses_postgresql:
        pytest.skip("SQLite's statements are local calls, not round trips")
    import psycopg

    from cloudnexus.files import service

    calls: list[str] = []

    def counted(name: str) -> Any:
        sends = getattr(service, name)

        def called(*args: Any) -> Any:
            calls.append(name)
            return sends(*args)

        return called

    for name in ("fetch_at_once", "send_together"):
        monkeypatch.setattr(service, name, counted(name))
    awaited = service.fetch_at_once_awaited

    async def counted_awaited(*args: Any) -> Any:
        calls.append("fetch_at_once_awaited")
        return await awaited(*args)

    monkeypatch.setattr(service, "fetch_at_once_awaited", counted_awaited)
    commit = psycopg.Connection.commit
    monkeypatch.setattr(psycopg.Connection, "commit",
                        lambda self: calls.append("COMMIT") or commit(self))
    made = client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                       files={"file": ("b.txt", b"a" * size, "text/plain")})
    assert made.status_code == 201, made.text
    assert calls == [sent_by]
    assert client.get(f"/v1/files/{made.json()['id']}",
                      headers=tenant.headers()).status_code == 200


@pytest.mark.parametrize("method, path, in_autocommit", [
    # reads only: no BEGIN, no COMMIT (a page sorted by size: one by path, with no filter,
    # is read through the read API, always in autocommit)
    ("GET", "/v1/buckets/docs/files?limit=100&sort=size", True),
    ("PATCH", "/v1/files/{id}", False),  # writes: one transaction
])
def test_a_page_reads_without_a_transaction_on_postgresql(
        app: Any, client: Any, tenant: Tenant, file_id: str, method: str, path: str,
        in_autocommit: bool) -> None:
    """On PostgreSQL BEGIN and COMMIT are two more round trips, which psycopg sends itself
    (not counted above); a route that only reads runs each statement on its own."""
    if not app.state.runtime.settings.uses_postgresql:
        pytest.skip("SQLite's transactions are local calls, not round trips")
    modes: list[bool] = []

    def record(conn: Any, *args: Any) -> None:
        modes.append(conn.connection.driver_connection.autocommit)

    event.listen(app.state.runtime.engine, "before_cursor_execute", record)
    try:
        response = client.request(method, path.format(id=file_id), headers=tenant.headers(),
                                  json={"tags": ["x"]} if method == "PATCH" else None)
    finally:
        event.remove(app.state.runtime.engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    assert modes and set(modes) == {in_autocommit}, modes


def test_a_delegated_tokens_read_of_a_file_is_one_statement_on_postgresql(
        app: Any, client: Any, tenant: Tenant, file_id: str) -> None:
    """The signing key and the file, as the API key and the file (the warm benchmark's row
    compares the two)."""
    headers = tenant.headers()
    assert client.post("/v1/signing-keys", json={"name": "app", "algorithm": "HS256"},
                       headers=headers).status_code == 201
    token = client.post("/v1/tokens", headers=headers, json={
        "sub": "user-1", "expires_in": 600,
        "cnx": {"buckets": ["docs"], "prefix": "", "ops": ["read"]}}).json()["token"]
    with counted_statements(app.state.runtime) as statements:
        read = client.get(f"/v1/files/{file_id}", headers={"authorization": f"Bearer {token}"})
    assert read.status_code == 200, read.text
    assert len(statements) <= budget_of(app, (2, 1)), statements
