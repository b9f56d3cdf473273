"""Alembic migrations, run programmatically (no alembic.ini to find at run time)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection, Engine

MIGRATE_HINT = "run `cloudnexus migrate`"

HERE = Path(__file__).parent


def alembic_config(engine: Engine | None = None) -> Config:
    """The migrations' configuration; with an engine, for running them on it."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    """The newest migration this code knows."""
    return _scripts().get_current_head()


def schema_problem(connection: Connection) -> str | None:
    """Why this code cannot use the database's schema yet, as one line naming the fix; None
    when the schema is at this code's newest migration or past it (code rolled back)."""
    from sqlalchemy import inspect, text

    current = (connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
               if inspect(connection).has_table("alembic_version") else None)
    head = head_revision()
    if current is None:
        return f"the database has no CloudNexus schema yet: {MIGRATE_HINT}"
    if current != head and _scripts().get_revision(current) is not None:
        return f"the database schema is at {current}, this code needs {head}: {MIGRATE_HINT}"
    return None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
