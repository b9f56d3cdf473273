"""Presigned uploads as the API takes and shows them."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from cloudnexus.files.schemas import ContentType, Metadata, Path, Sha256, Tags
from cloudnexus.limits import MAX_OBJECT_BYTES, MAX_PARTS
from cloudnexus.schemas import Model, Schema

PART_URLS_PER_RESPONSE = 1000  # ~1.7 MB of URLs with a Lambda session token; S3 allows 10,000


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


class UploadRefusal(Model):
    code: str
    message: str
    details: list[Any]


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
    error: UploadRefusal | None = Field(default=None, description=(
        "Why a complete (the client's, or the bytes' arrival) refused the upload and ended "
        "it; every later complete answers this error again"))
    url: str | None = None
    headers: dict[str, str] | None = None
    part_size: int | None = None
    parts: list[PartUrl] | None = Field(default=None, description=(
        f"URLs for the parts still to send, at most {PART_URLS_PER_RESPONSE} per response, "
        "by part number"))
    parts_received: list[ReceivedPart] | None = None
    parts_truncated: bool | None = Field(default=None, description=(
        "True when more parts remain to send than `parts` lists: fetch their URLs with "
        "GET /v1/uploads/{upload_id}?part_number_marker={next_part_number_marker}"))
    next_part_number_marker: int | None = Field(default=None, description=(
        "The part_number_marker that lists the next parts' URLs; null when `parts` is the last "
        "of them"))


class CompletedPart(Schema):
    part_number: Annotated[int, Field(ge=1, le=MAX_PARTS)]
    etag: Annotated[str, Field(min_length=1, max_length=1024)]


class UploadComplete(Schema):
    parts: Annotated[list[CompletedPart], Field(max_length=MAX_PARTS)] | None = None
    sha256: Sha256 | None = Field(None, description=(
        "Hex SHA-256 of the object, for an upload created without one (a client that hashes "
        "while it sends the parts); checked like one declared at creation"))

    @field_validator("parts")
    @classmethod
    def each_part_once(cls, parts: list[CompletedPart] | None) -> list[CompletedPart] | None:
        counts = Counter(part.part_number for part in parts or [])
        repeated = sorted(number for number, count in counts.items() if count > 1)
        if repeated:
            raise ValueError(f"each part_number may be listed once; repeated: {repeated}")
        return parts
