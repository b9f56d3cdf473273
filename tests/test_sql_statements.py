"""An authenticated read costs at most 2 SQL statements: the key, then the resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import Tenant


@contextmanager
def counted_statements(engine: Any) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's explicit BEGIN IMMEDIATE is no query
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def file_id(client: Any, tenant: Tenant) -> str:
    client.post("/v1/buckets", json={"name": "docs"}, headers=tenant.headers())
    created = client.post("/v1/buckets/docs/files", headers=tenant.headers(),
                          files={"file": ("a.txt", b"abc", "text/plain")})
    return str(created.json()["id"])


@pytest.mark.parametrize("path", ["/v1/files/{id}", "/v1/buckets/docs", "/v1/workspace",
                                  "/v1/buckets/docs/files?limit=100"])
def test_an_authenticated_read_is_at_most_two_statements(app: Any, client: Any, tenant: Tenant,
                                                         file_id: str, path: str) -> None:
    url = path.format(id=file_id)
    assert client.get(url, headers=tenant.headers()).status_code == 200  # key's last_used set
    with counted_statements(app.state.runtime.engine) as statements:
        assert client.get(url, headers=tenant.headers()).status_code == 200
    budget = 3 if "files?" in path else 2  # a listing also loads its bucket by name
    assert len(statements) <= budget, statements
