"""Presigned uploads as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from cloudnexus.files.schemas import ContentType, Metadata, Path, Sha256, Tags
from cloudnexus.schemas import MAX_OBJECT_BYTES, Model, Schema


class UploadCreate(Schema):
    path: Path
    size: int = Field(ge=0, le=MAX_OBJECT_BYTES,
                      description="Exact size in bytes of what will be uploaded (5 TiB at most)")
    content_type: ContentType
    sha256: Sha256 | None = Field(None, description="Hex SHA-256; bound into the signature")
    metadata: Metadata = Field(default_factory=dict)
    tags: Tags = Field(default_factory=list)
    overwrite: bool = False
    multipart: bool = Field(False, description="Force a multipart upload below the threshold")


class PartUrl(Model):
    part_number: int
    url: str


class ReceivedPart(Model):
    part_number: int
    etag: str
    size: int


class UploadOut(Model):
    """A single PUT (`url` and `headers`) or a multipart upload (`part_size` and `parts`)."""

    id: uuid.UUID
    file_id: uuid.UUID
    method: Literal["PUT", "MULTIPART"]
    status: str
    path: str
    size: int
    content_type: str
    expires_at: datetime
    url: str | None = None
    headers: dict[str, str] | None = None
    part_size: int | None = None
    parts: list[PartUrl] | None = None
    parts_received: list[ReceivedPart] | None = None


class CompletedPart(Schema):
    part_number: Annotated[int, Field(ge=1, le=10_000)]
    etag: Annotated[str, Field(min_length=1, max_length=1024)]


class UploadComplete(Schema):
    parts: Annotated[list[CompletedPart], Field(max_length=10_000)] | None = None
