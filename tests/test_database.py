"""The engine: JSON columns read with `load_json`, whose shortcuts for `{}`, `[]` and `null` must
give each row objects of its own; errors that do not carry the statement's values."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cloudnexus.buckets import service as buckets
from cloudnexus.config import load_settings
from cloudnexus.db.connections import load_json
from cloudnexus.db.engine import create_db_engine, create_session_factory
from cloudnexus.files import service as files
from cloudnexus.files.models import File
from cloudnexus.storage import create_storage
from cloudnexus.workspaces import service as workspaces


@pytest.mark.parametrize("document", ["{}", "[]", '{"a": [1, {}]}', '["x", []]', "null", "3"])
def test_load_json_reads_text_and_bytes_as_json_does(document: str) -> None:
    assert load_json(document) == json.loads(document)
    assert load_json(document.encode()) == json.loads(document)


def test_load_json_gives_fresh_empty_objects() -> None:
    first, second = load_json(b"{}"), load_json(b"{}")
    first["k"] = "v"
    assert second == {} and load_json("[]") is not load_json("[]")


def test_rows_read_through_the_engine_get_objects_of_their_own(database_url: str,
                                                               tmp_path: Path) -> None:
    settings = load_settings(database_url=database_url, data_dir=tmp_path)
    engine, storage = create_db_engine(settings), create_storage(settings)
    sessions = create_session_factory(engine)
    with sessions() as db:
        workspace = workspaces.create(db, name=f"json-{uuid.uuid4().hex[:8]}")
        bucket = buckets.create(db, workspace_id=workspace.id, name="docs")
        for path in ("a.txt", "b.txt"):
            file_id = uuid.uuid4()
            files.record(db, storage, files.NewFile(
                bucket=bucket, file_id=file_id, path=path, size=1, content_type="text/plain",
                sha256=None, metadata={}, tags=[], storage_key=files.new_object_key(bucket, file_id),
                overwrite=False, created_by=None))
        db.commit()
    with sessions() as db:
        rows = db.scalars(select(File).where(File.bucket_id == bucket.id)).all()
        assert [(row.metadata_, row.tags) for row in rows] == [({}, []), ({}, [])]
        rows[0].metadata_["k"] = "v"
        rows[0].tags.append("t")
        assert (rows[1].metadata_, rows[1].tags) == ({}, [])
    engine.dispose()


def test_a_database_error_does_not_carry_the_statements_values(database_url: str) -> None:
    """Its message goes to the logs with an unexpected error's traceback."""
    engine = create_db_engine(load_settings(database_url=database_url))
    with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
        connection.execute(text("SELECT * FROM no_such_table WHERE name = :name"),
                           {"name": "secret-value-1234"})
    engine.dispose()
    assert "no_such_table" in str(raised.value) and "secret-value-1234" not in str(raised.value)


def test_the_pools_connections_read_json_columns_with_load_json(postgres_url: str) -> None:
    """The engine's json_deserializer reaches only connections it makes itself; the process's
    pool makes them, for the ORM and the read API alike."""
    from psycopg.pq import Format

    from cloudnexus.db.pool import Pool

    pool = Pool(load_settings(database_url=postgres_url).postgres_url(), size=1)
    try:
        connection = pool.take()
        for name in ("json", "jsonb"):
            oid = connection.adapters.types[name].oid
            for format_ in (Format.TEXT, Format.BINARY):
                loader = connection.adapters.get_loader(oid, format_)
                assert loader is not None and loader._loads is load_json  # psycopg keeps it there
        connection.close()  # back to the pool
        assert pool.fetch("SELECT '{}'::jsonb AS m, '[1]'::jsonb AS t", {}) == [{
            "m": {}, "t": [1]}]
    finally:
        pool.close()
