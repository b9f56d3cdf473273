"""The API's resources as typed objects, with the contract's field names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Usage:
    bytes: int
    files: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Usage:
        return cls(bytes=int(data["bytes"]), files=int(data["files"]))


@dataclass(frozen=True)
class Quota:
    max_bytes: int | None
    max_files: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Quota:
        return cls(max_bytes=data.get("max_bytes"), max_files=data.get("max_files"))


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    created_at: datetime | None
    usage: Usage
    quota: Quota

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Workspace:
        return cls(id=data["id"], name=data["name"], created_at=_time(data.get("created_at")),
                   usage=Usage.from_json(data["usage"]), quota=Quota.from_json(data["quota"]))


@dataclass(frozen=True)
class Key:
    id: str
    name: str
    scopes: list[str]
    created_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    key: str | None = None  # the full key: only in the answer that created it

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Key:
        return cls(id=data["id"], name=data["name"], scopes=list(data["scopes"]),
                   created_at=_time(data.get("created_at")),
                   expires_at=_time(data.get("expires_at")),
                   last_used_at=_time(data.get("last_used_at")),
                   revoked_at=_time(data.get("revoked_at")), key=data.get("key"))


@dataclass(frozen=True)
class Bucket:
    id: str
    name: str
    public: bool
    max_file_size: int | None
    allowed_content_types: list[str] | None
    created_at: datetime | None
    updated_at: datetime | None
    usage: Usage | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bucket:
        usage = data.get("usage")
        return cls(id=data["id"], name=data["name"], public=bool(data["public"]),
                   max_file_size=data.get("max_file_size"),
                   allowed_content_types=data.get("allowed_content_types"),
                   created_at=_time(data.get("created_at")),
                   updated_at=_time(data.get("updated_at")),
                   usage=Usage.from_json(usage) if usage else None)


@dataclass(frozen=True)
class File:
    id: str
    bucket: str
    path: str
    size: int
    content_type: str
    sha256: str | None
    etag: str
    metadata: dict[str, Any]
    tags: list[str]
    status: str
    created_at: datetime | None
    updated_at: datetime | None
    public_url: str | None
    created_by: str | None = None  # a token's `sub`, or "key:<api key id>"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> File:
        return cls(id=data["id"], bucket=data["bucket"], path=data["path"],
                   size=int(data["size"]), content_type=data["content_type"],
                   sha256=data.get("sha256"), etag=data["etag"],
                   metadata=dict(data.get("metadata") or {}), tags=list(data.get("tags") or []),
                   status=data["status"], created_at=_time(data.get("created_at")),
                   updated_at=_time(data.get("updated_at")), public_url=data.get("public_url"),
                   created_by=data.get("created_by"))

    def to_json(self) -> dict[str, Any]:
        """The record as the API shows it (timestamps in RFC 3339)."""
        out: dict[str, Any] = dict(self.__dict__)
        for name in ("created_at", "updated_at"):
            value = out[name]
            out[name] = value.isoformat().replace("+00:00", "Z") if value else None
        return out


@dataclass(frozen=True)
class PartUrl:
    part_number: int
    url: str


@dataclass(frozen=True)
class ReceivedPart:
    part_number: int
    etag: str
    size: int


@dataclass(frozen=True)
class Upload:
    """A presigned upload: a single PUT (`url`, `headers`) or multipart (`part_size`, `parts`)."""

    id: str
    file_id: str
    method: str
    status: str
    path: str
    size: int
    content_type: str
    expires_at: datetime | None
    url: str | None = None
    headers: dict[str, str] | None = None
    part_size: int | None = None
    parts: list[PartUrl] = field(default_factory=list)
    parts_received: list[ReceivedPart] = field(default_factory=list)
    parts_truncated: bool = False
    next_part_number_marker: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Upload:
        return cls(
            id=data["id"], file_id=data["file_id"], method=data["method"],
            status=data.get("status", "pending"), path=data.get("path", ""),
            size=int(data.get("size", 0)), content_type=data.get("content_type", ""),
            expires_at=_time(data.get("expires_at")), url=data.get("url"),
            headers=data.get("headers"), part_size=data.get("part_size"),
            parts=[PartUrl(int(p["part_number"]), p["url"]) for p in data.get("parts") or []],
            parts_received=[ReceivedPart(int(p["part_number"]), p["etag"], int(p["size"]))
                            for p in data.get("parts_received") or []],
            parts_truncated=bool(data.get("parts_truncated")),
            next_part_number_marker=data.get("next_part_number_marker"))


@dataclass(frozen=True)
class Link:
    id: str
    file_id: str | None
    url: str | None
    created_at: datetime | None
    expires_at: datetime | None
    max_downloads: int | None
    downloads: int
    revoked_at: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Link:
        return cls(id=data["id"], file_id=data.get("file_id"), url=data.get("url"),
                   created_at=_time(data.get("created_at")),
                   expires_at=_time(data.get("expires_at")),
                   max_downloads=data.get("max_downloads"), downloads=int(data.get("downloads", 0)),
                   revoked_at=_time(data.get("revoked_at")))


@dataclass(frozen=True)
class SigningKey:
    """A key that signs delegated tokens; an HS256 key's `secret` is in its creation only."""

    id: str
    name: str
    algorithm: str
    created_at: datetime | None
    secret: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SigningKey:
        return cls(id=data["id"], name=data["name"], algorithm=data["algorithm"],
                   created_at=_time(data.get("created_at")), secret=data.get("secret"))


@dataclass(frozen=True)
class Token:
    """A delegated token minted by the server: pass it as `Client(url, token=...)`."""

    token: str
    expires_at: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Token:
        return cls(token=data["token"], expires_at=_time(data.get("expires_at")))


@dataclass(frozen=True)
class Health:
    status: str
    version: str | None
    checks: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Health:
        return cls(status=data["status"], version=data.get("version"),
                   checks=dict(data.get("checks") or {}))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the cursor of the next (None on the last)."""

    items: list[T]
    next_cursor: str | None
