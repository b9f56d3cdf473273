"""The declarative Base and the column types both databases share (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on PostgreSQL and on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


JsonDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JsonDocument}


def row_of(instance: Base) -> dict[str, Any]:
    """A new instance's column values by column name, for a Core INSERT of its table (which
    costs less Python than the ORM's unit of work for one row). Every column must be set:
    the ORM's defaults are not applied."""
    return {column: getattr(instance, attribute)
            for attribute, column in _columns_of(type(instance))}


@functools.cache
def _columns_of(cls: type[Base]) -> tuple[tuple[str, str], ...]:
    """(attribute, column name) of each mapped column of `cls`."""
    return tuple((prop.key, prop.columns[0].key) for prop in inspect(cls).column_attrs)
