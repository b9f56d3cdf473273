"""Migrations go up from nothing, down to nothing and up again, on both databases; on
PostgreSQL the search index leads with bucket_id, its column keeps finer statistics, and the
path index covers a search's walk in path order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from cloudnexus.config import load_settings
from cloudnexus.db.engine import create_db_engine
from cloudnexus.files.paths import search_key
from cloudnexus.files.search import windows
from cloudnexus.migrations import alembic_config, current_revision, head_revision, upgrade
from tests.conftest import new_postgres_database


@contextmanager
def empty_postgres_engine() -> Iterator[Engine]:
    with new_postgres_database(f"cloudnexus_migrations_{uuid.uuid4().hex[:12]}") as url:
        engine = create_db_engine(load_settings(database_url=url))
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        with empty_postgres_engine() as engine:
            yield engine
        return
    engine = create_db_engine(load_settings(database_url=f"sqlite:///{tmp_path}/m.db"))
    yield engine
    engine.dispose()


def test_up_down_and_up_again(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert "files" in inspect(empty_engine).get_table_names()
    command.downgrade(alembic_config(empty_engine), "base")
    assert current_revision(empty_engine) is None
    assert "files" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()


def test_the_search_index_leads_with_the_bucket() -> None:
    with empty_postgres_engine() as engine:
        upgrade(engine)
        with engine.connect() as connection:
            indexes = dict(connection.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'files'")).all())
            statistics = connection.execute(text(
                "SELECT attstattarget FROM pg_attribute WHERE attrelid = 'files'::regclass "
                "AND attname = 'path_search'")).scalar()
    assert "ix_files_path_trgm" not in indexes
    assert "(bucket_id, path_search gin_trgm_ops)" in indexes["ix_files_bucket_path_trgm"]
    assert statistics == 1000
    assert "(bucket_id, path) INCLUDE (path_search, status, id)" in \
        indexes["ix_files_bucket_path_search"]  # a search's walk in path order: index-only
    assert indexes["files_bucket_id_path_key"].endswith("(bucket_id, path)")  # kept lean


def store_files_at_0004(engine: Engine, paths: list[str]) -> uuid.UUID:
    """The schema as it was before file_trigrams, with files in it: their bucket's id."""
    from cloudnexus.db.engine import create_session_factory

    command.upgrade(alembic_config(engine), "0004")
    workspace_id, bucket_id = uuid.uuid4(), uuid.uuid4()
    with create_session_factory(engine)() as db:
        # In SQL: the models have columns of later revisions.
        db.execute(text("INSERT INTO workspaces (id, name, created_at, used_bytes, used_files, "
                        "reserved_bytes, reserved_files) VALUES (:id, 'before', now(), 0, 0, 0, 0)"),
                   {"id": workspace_id})
        db.execute(text("INSERT INTO buckets (id, workspace_id, name, public, created_at, "
                        "updated_at, used_bytes, used_files) "
                        "VALUES (:id, :workspace, 'old', false, now(), now(), 0, 0)"),
                   {"id": bucket_id, "workspace": workspace_id})
        db.execute(text(
            "INSERT INTO files (id, workspace_id, bucket_id, path, path_search, size, "
            "content_type, etag, metadata, tags, status, storage_key, created_at, updated_at) "
            "SELECT gen_random_uuid(), :workspace, :bucket, p, s, 1, 'text/plain', 'e', '{}', "
            "'[]', 'ready', 'k/' || p, now(), now() "
            "FROM unnest(CAST(:paths AS text[]), CAST(:folded AS text[])) AS t(p, s)"),
            {"workspace": workspace_id, "bucket": bucket_id, "paths": paths,
             "folded": [search_key(path) for path in paths]})
        db.commit()
    return bucket_id


def held_trigrams(engine: Engine) -> set[tuple[Any, ...]]:
    with engine.connect() as connection:
        return set(connection.execute(text(
            "SELECT bucket_id, trigram, path, path_search FROM file_trigrams")).all())


def trigrams_of(bucket_id: uuid.UUID, paths: list[str]) -> set[tuple[Any, ...]]:
    return {(bucket_id, window, path, search_key(path)) for path in paths
            for window in windows(search_key(path))}


def test_files_stored_before_the_trigram_table_are_in_it_after() -> None:
    paths = ["a/Report-2026.pdf", "b/straße/ΐx.txt", "ab"]
    with empty_postgres_engine() as engine:
        bucket_id = store_files_at_0004(engine, paths)
        upgrade(engine)
        held = held_trigrams(engine)
    assert held == trigrams_of(bucket_id, paths)
    assert ("b/straße/ΐx.txt" in {path for _, _, path, _ in held}) and len(held) > 20


def test_a_backfill_cut_off_goes_on_where_it_stopped_when_run_again() -> None:
    paths = [f"f/{n}.txt" for n in range(6)]
    with empty_postgres_engine() as engine:
        bucket_id = store_files_at_0004(engine, paths)
        upgrade(engine, "0005")
        with engine.begin() as connection:  # as if cut off after the batch ending at paths[2]
            connection.execute(text("DELETE FROM file_trigrams"))
            connection.execute(text(
                "CREATE TABLE file_trigrams_backfill (bucket_id uuid NOT NULL, path text)"))
            connection.execute(text("INSERT INTO file_trigrams_backfill VALUES (:bucket, :path)"),
                               {"bucket": bucket_id, "path": paths[2]})
            connection.execute(text("UPDATE alembic_version SET version_num = '0004'"))
        upgrade(engine, "0005")
        held = held_trigrams(engine)
        leftover = inspect(engine).has_table("file_trigrams_backfill")
    assert held == trigrams_of(bucket_id, paths[3:])  # the files after paths[2] only
    assert not leftover
