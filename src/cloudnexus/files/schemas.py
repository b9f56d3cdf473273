"""Files as the API takes and shows them, and the fields uploads share with them."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from cloudnexus.schemas import Model, Schema, StorableText, storable_text

if TYPE_CHECKING:
    from cloudnexus.files.models import File

MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_DEPTH = 32
MAX_TAGS = 50


def _check_document(value: Any) -> None:
    """JSON every database keeps as given: finite numbers, storable text, 32 levels at most."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_METADATA_DEPTH:
            raise ValueError(f"may nest at most {MAX_METADATA_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                storable_text(key)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            storable_text(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite")


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    _check_document(value)
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > \
            MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return value


def _unique_tags(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


Metadata = Annotated[dict[str, Any], AfterValidator(_small_metadata)]
Tag = Annotated[StorableText, StringConstraints(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_unique_tags)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]
# RFC 9110's media type in visible ASCII (what a client can send back as a header): type/subtype,
# then parameters, each a token or a quoted string (with its backslash escapes), maybe empty;
# white space around the separators and the whole.
_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
_VALUE = r'(?:[!#-:<-~]+|"(?:[\t !#-\[\]-~]|\\[\t -~])*")'
CONTENT_TYPE_PATTERN = (rf"^[ \t]*{_NAME}/{_NAME}"
                        rf"(?:[ \t]*;(?:[ \t]*{_NAME}={_VALUE})?)*[ \t]*$")
_CONTENT_TYPE = re.compile(CONTENT_TYPE_PATTERN)
MAX_CONTENT_TYPE = 255


def media_type(value: str) -> str | None:
    """The content type as kept: without surrounding white space, its type/subtype in lower
    case (they are case-insensitive, and filters compare them so); None when it is none."""
    if len(value) > MAX_CONTENT_TYPE or not _CONTENT_TYPE.fullmatch(value):
        return None
    essence, separator, parameters = value.strip(" \t").partition(";")
    return essence.rstrip(" \t").lower() + separator + parameters


def _media_type(value: str) -> str:
    normalized = media_type(value)
    if normalized is None:
        raise ValueError("must be a media type like 'text/plain; charset=utf-8'")
    return normalized


ContentType = Annotated[str, StringConstraints(pattern=CONTENT_TYPE_PATTERN,
                                               max_length=MAX_CONTENT_TYPE),
                        AfterValidator(_media_type)]
Path = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class ImageInfo(Model):
    width: int = Field(description="As displayed, after the EXIF orientation")
    height: int = Field(description="As displayed, after the EXIF orientation")
    format: str = Field(description="jpeg, png, webp or gif")


class FileOut(Model):
    id: uuid.UUID
    bucket: str
    path: str
    size: int
    content_type: str
    sha256: str | None
    etag: str
    metadata: dict[str, Any]
    tags: list[str]
    status: str
    created_at: datetime
    updated_at: datetime
    public_url: str | None
    created_by: str | None = Field(description="The delegated token's `sub`, or "
                                               "`key:<api key id>`; null for older files")
    detected_content_type: str | None = Field(
        description="The type its first bytes show; null when not recognized")
    image: ImageInfo | None = Field(description="For images: size and format; null otherwise")

    @classmethod
    def from_model(cls, file: File, public_url: str | None) -> FileOut:
        return cls(
            id=file.id, bucket=file.bucket.name, path=file.path, size=file.size,
            content_type=file.content_type, sha256=file.sha256, etag=file.etag,
            metadata=file.metadata_, tags=file.tags, status=file.status,
            created_at=file.created_at, updated_at=file.updated_at, public_url=public_url,
            created_by=file.created_by, detected_content_type=file.detected_content_type,
            image=file.image,  # type: ignore[arg-type]  # validated from its dict
        )


class FilePage(Model):
    items: list[FileOut]
    next_cursor: str | None


class FileUpdate(Schema):
    path: Path | None = None
    metadata: Metadata | None = None
    tags: Tags | None = None


class FileCopy(Schema):
    path: Path
    bucket: str | None = Field(None, description="Target bucket; the same bucket if left out")
    overwrite: bool = False


class BatchDelete(Schema):
    """Either `ids` (at most 1000) or `prefix`, not both."""

    ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)] | None = None
    prefix: Annotated[StorableText, StringConstraints(min_length=1, max_length=1024)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> BatchDelete:
        if (self.ids is None) == (self.prefix is None):
            raise ValueError("give either 'ids' or 'prefix'")
        return self


class BatchDeleted(Model):
    deleted: int


SortField = Literal["path", "created_at", "size"]
SortOrder = Literal["asc", "desc"]
