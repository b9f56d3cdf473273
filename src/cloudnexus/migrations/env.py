"""Alembic environment: uses the engine handed over in config.attributes."""

from __future__ import annotations

from alembic import context

from cloudnexus.models import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER in place
        compare_type=True,
    )
    # Alembic's own transaction, so a migration can step out of it (autocommit_block) for
    # CREATE INDEX CONCURRENTLY.
    with context.begin_transaction():
        context.run_migrations()
