"""deploy/bootstrap.sql on the real PostgreSQL: database, user, grants, default privileges."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    database, user = f"cnx_boot_{suffix}", f"cnx_app_{suffix}"
    yield database, user
    admin = create_engine(ADMIN.format(db="test"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'DROP ROLE IF EXISTS "{user}"'))
    admin.dispose()


def bootstrap(database: str, user: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q",
         "-v", f"app_user={user}", "-v", f"app_password={password}", "-v", f"db_name={database}",
         "-f", str(ROOT / "deploy" / "bootstrap.sql")],
        capture_output=True, text=True, timeout=60)


def test_bootstrap_makes_a_user_who_can_use_tables_made_later(names: tuple[str, str]) -> None:
    database, user = names
    first = bootstrap(database, user, "pa'ss word")
    assert first.returncode == 0, first.stderr
    assert bootstrap(database, user, "rotated").returncode == 0  # safe to run again
    owner = create_engine(ADMIN.format(db=database))
    with owner.begin() as connection:  # a table a later migration makes, as the admin role
        connection.execute(text("CREATE TABLE later (id serial PRIMARY KEY, name text)"))
    owner.dispose()
    app = create_engine(f"postgresql+psycopg://{user}@127.0.0.1:5432/{database}")
    with app.begin() as connection:
        connection.execute(text("INSERT INTO later (name) VALUES ('x')"))
        assert connection.execute(text("SELECT count(*) FROM later")).scalar_one() == 1
        assert connection.execute(text(
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar_one() == 1
    app.dispose()
    admin = create_engine(ADMIN.format(db="test"))
    with admin.connect() as connection:
        can_login, password_set = connection.execute(text(
            "SELECT rolcanlogin, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = :u"),
            {"u": user}).one()
    admin.dispose()
    assert can_login and password_set


def test_migrations_run_as_the_app_user_after_bootstrap(names: tuple[str, str]) -> None:
    """The Lambda's `{"cloudnexus": "migrate"}` runs as the application user, who may not
    create extensions: bootstrap.sql must have made every one the migrations ask for."""
    from cloudnexus.migrations import current_revision, head_revision, upgrade

    database, user = names
    result = bootstrap(database, user, "secret")
    assert result.returncode == 0, result.stderr
    app = create_engine(f"postgresql+psycopg://{user}@127.0.0.1:5432/{database}")
    try:
        upgrade(app)
        assert current_revision(app) == head_revision()
        with app.connect() as connection:
            extensions = set(connection.execute(text("SELECT extname FROM pg_extension")).scalars())
            assert {"pg_trgm", "btree_gin"} <= extensions
            owner = connection.execute(text(
                "SELECT tableowner FROM pg_tables WHERE tablename = 'files'")).scalar_one()
            assert owner == user
    finally:
        app.dispose()
