"""Share links as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from cloudnexus.schemas import MAX_BIGINT, Model, Schema


class LinkCreate(Schema):
    expires_in: int = Field(ge=1, le=604800, description="Seconds, at most 7 days")
    max_downloads: int | None = Field(None, ge=1, le=MAX_BIGINT)


class LinkOut(Model):
    id: uuid.UUID
    file_id: uuid.UUID
    url: str | None = Field(description="The link; shown only when it is created")
    created_at: datetime
    expires_at: datetime
    max_downloads: int | None
    downloads: int
    revoked_at: datetime | None


class LinkList(Model):
    items: list[LinkOut]
