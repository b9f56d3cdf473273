"""A PostgreSQL database of the benchmark's own, migrated, with a tenant in it."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")


SEED = """
INSERT INTO files (id, workspace_id, bucket_id, path, path_search, size, content_type, etag,
                   metadata, tags, status, storage_key, created_at, updated_at)
SELECT gen_random_uuid(), :workspace, :bucket, p, lower(p), (n::bigint * 7919) % 1000003,
       CASE n % 4 WHEN 0 THEN 'image/png' WHEN 1 THEN 'image/jpeg' WHEN 2 THEN 'text/plain'
                  ELSE 'application/pdf' END,
       'e', '{}'::jsonb,
       CASE n % 10 WHEN 0 THEN '["red"]'::jsonb WHEN 1 THEN '["blue","green"]'::jsonb
                   ELSE '[]'::jsonb END,
       'ready', 'private/x/' || n, now() - (n || ' seconds')::interval, now()
FROM (SELECT n, 'dir' || (n % 97) || '/sub' || (n % 13) || '/file-' || n || '.bin' AS p
      FROM generate_series(1, :rows) AS n) AS s
"""


def seed_files(db: Any, *, workspace_id: uuid.UUID, bucket_id: uuid.UUID, rows: int) -> None:
    """`rows` ready files in one statement (not through the API), then VACUUM ANALYZE."""
    db.execute(text(SEED), {"workspace": workspace_id, "bucket": bucket_id, "rows": rows})
    db.commit()
    # What autovacuum does shortly after a bulk load (a million inserts trigger it): fresh
    # statistics, the GIN pending list merged, pages marked all-visible. Done here so the
    # figures are of that steady state, not of a vacuum running under the measurements.
    with db.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE files, file_trigrams")  # not in a transaction


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new, migrated database; dropped afterwards."""
    from cloudnexus.config import load_settings
    from cloudnexus.db.engine import create_db_engine
    from cloudnexus.migrations import upgrade

    name = f"cloudnexus_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_db_engine(load_settings(database_url=url))
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Tenant:
    key: str
    bucket: str
    file_id: str


def make_tenant(url: str, *, public: bool = False, with_file: bool = True) -> Tenant:
    """A workspace, an admin key, a bucket and one file record (its bytes are not needed)."""
    from cloudnexus.auth import service as keys
    from cloudnexus.buckets import service as buckets
    from cloudnexus.config import load_settings
    from cloudnexus.db.engine import create_db_engine, create_session_factory
    from cloudnexus.files import service as files
    from cloudnexus.storage.local import LocalStorage
    from cloudnexus.workspaces import service as workspaces

    engine = create_db_engine(load_settings(database_url=url))
    with create_session_factory(engine)() as db, tempfile.TemporaryDirectory() as folder:
        storage = LocalStorage(Path(folder), "http://127.0.0.1:8000")  # nothing is overwritten
        workspace = workspaces.create(db, name=f"bench-{uuid.uuid4().hex[:6]}")
        _, key = keys.create(db, workspace_id=workspace.id, name="bench", scopes=["admin"])
        bucket = buckets.create(db, workspace_id=workspace.id, name="bench", public=public)
        file_id = uuid.uuid4()
        if with_file:
            files.record(db, storage, files.NewFile(
                bucket=bucket, file_id=file_id, path="hello.txt", size=5,
                content_type="text/plain", sha256=None, metadata={}, tags=[],
                storage_key=files.new_object_key(bucket, file_id), overwrite=False,
                created_by=None))
        db.commit()
    engine.dispose()
    return Tenant(key=key, bucket=bucket.name, file_id=str(file_id))
