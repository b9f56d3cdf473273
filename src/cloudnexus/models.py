"""Every table, imported in one place for Alembic and for the tests."""

from cloudnexus.database import Base

__all__ = ["Base"]
