"""file_trigrams: each file's trigrams, one row each, in path order within (bucket, trigram).

A search for a substring with no rare trigram walked the bucket in path order until a page of
matches was found, so its cost was set by where the matches lie: `dir96/sub` (one path in a
hundred, all near the end of the order) walked 950,000 entries of a million-file bucket,
190 ms, against 3 ms at 10,000 files. Walking only the paths that hold the query's least
common trigram, in path order, stops after the page's matches and the few paths beside them
that hold the trigram but not the substring: about 1 ms of SQL, at either size.

Kept by statement triggers on `files` (insert, update of bucket/path, delete, truncate), so
every writer, bulk loads included, keeps it whole in its own transaction. Every window of
three characters is kept, so a search with any three-character run can walk it.

The files already stored are added afterwards, in batches that each commit (writes to `files`
are not held meanwhile), and a migration cut off (the Lambda's 900 s) goes on where it
stopped when run again: every step is safe to repeat. The search walks the table only once
this migration is recorded as done (search.WALKABLE_FROM); until then, the path index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 08:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# ON CONFLICT: the backfill may add a row for a file deleted meanwhile, whose path a new file
# takes later; the row is the same (path_search follows from path) and one is kept. A row
# without its file costs a step of a walk, never a result: the walk joins `files`.
_ADD = """INSERT INTO file_trigrams (bucket_id, trigram, path, path_search)
    SELECT f.bucket_id, t, f.path, f.path_search FROM {rows}, path_trigrams(f.path_search) AS t
    ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING"""
BATCH = 10_000  # files per committed step of the backfill
_REMOVE = """DELETE FROM file_trigrams AS d USING {rows}, path_trigrams(f.path_search) AS t
    WHERE d.bucket_id = f.bucket_id AND d.trigram = t AND d.path = f.path"""
# The rows of an UPDATE whose place in a search changed, as they were (o) or are now (n).
_MOVED = """(SELECT {side}.* FROM old_files AS o JOIN new_files AS n ON n.id = o.id
    WHERE (n.bucket_id, n.path, n.path_search) IS DISTINCT FROM
          (o.bucket_id, o.path, o.path_search)) AS f"""

_FUNCTIONS = {
    "file_trigrams_insert": _ADD.format(rows="new_files AS f"),
    "file_trigrams_update": (_REMOVE.format(rows=_MOVED.format(side="o")) + ";\n"
                             + _ADD.format(rows=_MOVED.format(side="n"))),
    "file_trigrams_delete": _REMOVE.format(rows="old_files AS f"),
    "file_trigrams_truncate": "TRUNCATE file_trigrams",
}
_TRIGGERS = {  # trigger: (event, transition tables, function)
    "files_trigrams_insert": ("INSERT", "REFERENCING NEW TABLE AS new_files",
                              "file_trigrams_insert"),
    "files_trigrams_update": ("UPDATE", "REFERENCING OLD TABLE AS old_files NEW TABLE AS new_files",
                              "file_trigrams_update"),
    "files_trigrams_delete": ("DELETE", "REFERENCING OLD TABLE AS old_files",
                              "file_trigrams_delete"),
    "files_trigrams_truncate": ("TRUNCATE", "", "file_trigrams_truncate"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # As search.windows: every three characters in a row, once.
    op.execute("""
        CREATE OR REPLACE FUNCTION path_trigrams(path_search text) RETURNS SETOF text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT DISTINCT substr(path_search, i, 3)
            FROM generate_series(1, length(path_search) - 2) AS i
        $$""")
    op.execute("""
        CREATE TABLE IF NOT EXISTS file_trigrams (
            bucket_id uuid NOT NULL,
            trigram text COLLATE "C" NOT NULL,
            path varchar(1024) COLLATE "C" NOT NULL,
            path_search text NOT NULL,
            CONSTRAINT pk_file_trigrams PRIMARY KEY (bucket_id, trigram, path)
                INCLUDE (path_search)
        )""")
    for function, body in _FUNCTIONS.items():
        op.execute(f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger "
                   f"LANGUAGE plpgsql AS $$\nBEGIN\n{body};\nRETURN NULL;\nEND $$")
    for trigger, (event, tables, function) in _TRIGGERS.items():
        op.execute(f"CREATE OR REPLACE TRIGGER {trigger} AFTER {event} ON files {tables} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    op.execute("CREATE TABLE IF NOT EXISTS file_trigrams_backfill "
               "(bucket_id uuid NOT NULL, path varchar(1024) COLLATE \"C\" NOT NULL)")
    op.execute("INSERT INTO file_trigrams_backfill "
               "SELECT '00000000-0000-0000-0000-000000000000', '' "
               "WHERE NOT EXISTS (SELECT FROM file_trigrams_backfill)")
    with op.get_context().autocommit_block():  # the triggers are on: later writes are kept
        _backfill()
    op.execute("DROP TABLE file_trigrams_backfill")


def _backfill() -> None:
    """Every file stored before the triggers, BATCH at a time in (bucket, path) order, each
    committed with how far it got (a batch done twice adds nothing). About 450 s a million
    files here, in this order or in id order alike: each row is a B-tree insertion."""
    from sqlalchemy import text

    connection = op.get_bind()
    after = connection.execute(text("SELECT bucket_id, path FROM file_trigrams_backfill")).one()
    while True:
        last = connection.execute(text(
            "SELECT bucket_id, path FROM (SELECT bucket_id, path FROM files "
            "WHERE (bucket_id, path) > (:bucket, :path) ORDER BY bucket_id, path LIMIT :batch) "
            "AS b ORDER BY bucket_id DESC, path DESC LIMIT 1"),
            {"bucket": after[0], "path": after[1], "batch": BATCH}).one_or_none()
        if last is None:
            return
        connection.execute(text(_ADD.format(
            rows="(SELECT * FROM files WHERE (bucket_id, path) > (:bucket, :path) "
                 "AND (bucket_id, path) <= (:last_bucket, :last_path)) AS f")),
            {"bucket": after[0], "path": after[1], "last_bucket": last[0], "last_path": last[1]})
        connection.execute(text("UPDATE file_trigrams_backfill SET bucket_id = :bucket, "
                                "path = :path"), {"bucket": last[0], "path": last[1]})
        after = last


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger in _TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON files")
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP TABLE file_trigrams")
    op.execute("DROP TABLE IF EXISTS file_trigrams_backfill")
    op.execute("DROP FUNCTION path_trigrams(text)")
