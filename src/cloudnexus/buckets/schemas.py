"""Buckets as the API takes and shows them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field, StringConstraints

from cloudnexus.limits import MAX_OBJECT_BYTES
from cloudnexus.schemas import Model, Schema, Usage

if TYPE_CHECKING:
    from cloudnexus.buckets.models import Bucket

BUCKET_NAME = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"
_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_CONTENT_TYPE_PATTERN = re.compile(rf"{_NAME}/(?:{_NAME}|\*)")

BucketName = Annotated[str, StringConstraints(pattern=BUCKET_NAME)]


def is_bucket_name(name: str) -> bool:
    """Whether a bucket could have this name: any other names none (and may not reach SQL)."""
    return re.fullmatch(BUCKET_NAME, name) is not None


def _preview_size(value: str) -> str:
    from cloudnexus.previews.variants import MAX_SIDE

    if any(int(side) > MAX_SIDE for side in value.split("x")):
        raise ValueError(f"each side is 1..{MAX_SIDE} pixels")
    return value


def _content_type(value: str) -> str:
    value = value.strip().lower()
    if not _CONTENT_TYPE_PATTERN.fullmatch(value):
        raise ValueError("must be a media type like 'image/png' or 'image/*'")
    return value


ContentTypePattern = Annotated[str, AfterValidator(_content_type)]
PreviewSize = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$"),
                        AfterValidator(_preview_size)]
PreviewSizes = Annotated[list[PreviewSize], Field(min_length=1, max_length=100)]
ContentTypes = Annotated[list[ContentTypePattern], Field(min_length=1, max_length=100)]


class BucketCreate(Schema):
    name: BucketName
    public: bool = False
    max_file_size: int | None = Field(None, ge=1, le=MAX_OBJECT_BYTES)
    allowed_content_types: ContentTypes | None = None
    previews_enabled: bool = True
    preview_sizes: PreviewSizes | None = Field(
        None, description='Sizes /preview makes, like ["64x64", "256x256"]; null: any')


class BucketUpdate(Schema):
    """Only the fields given change; null lifts a limit."""

    public: bool | None = None
    max_file_size: int | None = Field(None, ge=1, le=MAX_OBJECT_BYTES)
    allowed_content_types: ContentTypes | None = None
    previews_enabled: bool | None = None
    preview_sizes: PreviewSizes | None = None


class BucketOut(Model):
    id: uuid.UUID
    name: str
    public: bool
    max_file_size: int | None
    allowed_content_types: list[str] | None
    previews_enabled: bool
    preview_sizes: list[str] | None
    created_at: datetime
    updated_at: datetime
    usage: Usage

    @classmethod
    def from_model(cls, bucket: Bucket) -> BucketOut:
        return cls(
            id=bucket.id, name=bucket.name, public=bucket.public,
            max_file_size=bucket.max_file_size,
            allowed_content_types=bucket.allowed_content_types,
            previews_enabled=bucket.previews_enabled, preview_sizes=bucket.preview_sizes,
            created_at=bucket.created_at, updated_at=bucket.updated_at,
            usage=Usage(bytes=bucket.used_bytes, files=bucket.used_files,
                        derived_bytes=bucket.derived_bytes),
        )


class BucketList(Model):
    items: list[BucketOut]
