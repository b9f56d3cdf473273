"""Migrations go up from nothing, down to nothing and up again, on both databases; on
PostgreSQL the search index leads with bucket_id, its column keeps finer statistics, and the
path index covers a search's walk in path order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from cloudnexus.config import load_settings
from cloudnexus.database import create_db_engine
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
    assert current_revision(empty_engine) == head_revision(empty_engine)
    assert "files" in inspect(empty_engine).get_table_names()
    command.downgrade(alembic_config(empty_engine), "base")
    assert current_revision(empty_engine) is None
    assert "files" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision(empty_engine)


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
