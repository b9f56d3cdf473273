"""db.engine.fetch_at_once: a prebuilt statement sent by psycopg alone on PostgreSQL, as a
transaction of its own on a connection of the engine's pool, its values converted as
SQLAlchemy would convert them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, insert, literal, select
from sqlalchemy.exc import IntegrityError

from cloudnexus.buckets.models import Bucket
from cloudnexus.db.engine import fetch_at_once
from tests.conftest import Tenant

BUCKETS = cast(Table, Bucket.__table__)
# Every column given (a JSON one among them), and a constant the statement binds itself.
_ADD = insert(BUCKETS).from_select(
    [column.key for column in BUCKETS.c],
    select(*(bindparam(column.key, type_=column.type) for column in BUCKETS.c))
    .where(literal(1) == 1),
).returning(BUCKETS.c.name, BUCKETS.c.allowed_content_types)


@pytest.fixture
def session(app: Any) -> Any:
    if not app.state.runtime.settings.uses_postgresql:
        pytest.skip("PostgreSQL only: SQLite's statements go through SQLAlchemy")
    with app.state.runtime.session_factory() as db:
        yield db


def bucket_row(workspace_id: Any, name: str, types: list[str]) -> dict[str, Any]:
    """Every column of a new bucket's row."""
    now = datetime.now(UTC)
    return {"id": uuid.uuid4(), "workspace_id": workspace_id, "name": name, "public": False,
            "max_file_size": None, "allowed_content_types": types, "created_at": now,
            "updated_at": now, "used_bytes": 0, "used_files": 0, "previews_enabled": True,
            "preview_sizes": None, "derived_bytes": 0}


def add(db: Any, tenant: Tenant, name: str, workspace_id: Any = None) -> Any:
    return fetch_at_once(db, _ADD, bucket_row(workspace_id or tenant.workspace_id, name,
                                              ["image/png"]))


def test_a_row_is_written_and_returned_with_its_json(session: Any, tenant: Tenant) -> None:
    assert add(session, tenant, "made") == ("made", ["image/png"])
    # Committed on its own: another session sees it, and this one goes on as usual.
    assert session.scalar(select(Bucket.allowed_content_types).where(
        Bucket.name == "made")) == ["image/png"]
    assert session.connection().connection.driver_connection.autocommit is False


def test_a_failed_statement_is_sqlalchemys_error_and_leaves_nothing(
        session: Any, tenant: Tenant) -> None:
    with pytest.raises(IntegrityError):  # no such workspace: its foreign key
        add(session, tenant, "orphan", workspace_id=uuid.uuid4())
    assert session.scalar(select(Bucket.id).where(Bucket.name == "orphan")) is None


def test_it_refuses_to_run_beside_an_open_transaction(session: Any, tenant: Tenant) -> None:
    """It runs on a connection of its own: beside a transaction of the session it could
    wait on that transaction's locks, held by a caller waiting on it."""
    session.scalar(select(Bucket.id).limit(1))
    with pytest.raises(ValueError, match="end its transaction first"):
        add(session, tenant, "beside")
    session.rollback()
    assert add(session, tenant, "after") == ("after", ["image/png"])


def test_a_statement_whose_columns_take_python_defaults_is_refused(session: Any) -> None:
    """SQLAlchemy's execution computes those; psycopg alone would send nothing for them."""
    with pytest.raises(ValueError, match="Python-side defaults"):
        fetch_at_once(session, insert(BUCKETS).from_select(["name"], select(bindparam("n"))),
                      {"n": "x"})


def test_statements_sent_together_answer_each_and_fail_as_one(
        session: Any, tenant: Tenant) -> None:
    """send_together: each statement's rowcount and rows; a failing one is SQLAlchemy's
    error, and the transaction rolls back whole."""
    from sqlalchemy import update

    from cloudnexus.db.engine import send_together

    row = bucket_row(tenant.workspace_id, "together", ["text/plain"])
    rename = update(BUCKETS).where(BUCKETS.c.id == bindparam("bucket")).values(
        public=bindparam("public")).returning(BUCKETS.c.public)
    sent = send_together(session, [(_ADD, row), (rename, {  # (updated_at: its onupdate column)
        "bucket": row["id"], "public": True, "updated_at": row["updated_at"]})])
    assert sent == [(1, [("together", ["text/plain"])]), (1, [(True,)])]
    session.rollback()
    assert session.scalar(select(Bucket.id).where(Bucket.name == "together")) is None
    with pytest.raises(IntegrityError):  # the second row: the same id
        send_together(session, [(_ADD, row), (_ADD, {**row, "name": "twice"})])
    session.rollback()
    assert session.scalar(select(Bucket.id).where(Bucket.name == "together")) is None


def test_statements_sent_together_open_their_transaction_in_the_same_round_trip(
        app: Any, session: Any, tenant: Tenant, tmp_path: Any) -> None:
    """psycopg sends the BEGIN of a transaction and waits for its answer before a pipeline's
    first statement: the BEGIN goes in the pipeline instead, one Sync (one round trip) for
    it and the statements. The transaction holds until the session commits, and the
    connection goes back to the pool in the ORM's mode."""
    from psycopg.pq import Trace

    from cloudnexus.db.engine import send_together

    driver = session.connection().connection.driver_connection
    row = bucket_row(tenant.workspace_id, "in-one", ["text/plain"])
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as out:
        driver.pgconn.trace(out.fileno())
        driver.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            send_together(session, [(_ADD, row)])
        finally:
            driver.pgconn.untrace()
    sent = [line.split("\t")[2:] for line in trace.read_text().splitlines()
            if line.startswith("F\t")]
    assert [message[0] for message in sent].count("Sync") == 1, sent
    assert sent[0][:2] == ["Parse", ' "" "BEGIN" 0'], sent
    with app.state.runtime.session_factory() as other:
        assert other.scalar(select(Bucket.id).where(Bucket.name == "in-one")) is None
    session.commit()
    with app.state.runtime.session_factory() as other:
        assert other.scalar(select(Bucket.id).where(Bucket.name == "in-one")) == row["id"]
        assert other.connection().connection.driver_connection.autocommit is False
