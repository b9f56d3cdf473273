"""API keys as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from cloudnexus.auth.scopes import Scope
from cloudnexus.schemas import Model, Schema, StorableText


class KeyCreate(Schema):
    name: StorableText = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: AwareDatetime | None = None

    @field_validator("scopes")
    @classmethod
    def _unique(cls, scopes: list[Scope]) -> list[Scope]:
        return sorted(set(scopes))

    @field_validator("expires_at")
    @classmethod
    def _in_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            value = value.astimezone(UTC)  # as it is stored
        except OverflowError:  # 9999-12-31T23:00:00-10:00 is in year 10000 in UTC
            raise ValueError("is out of range") from None
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


class KeyOut(Model):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The full key; shown only in this response")


class KeyList(Model):
    items: list[KeyOut]
