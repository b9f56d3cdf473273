"""Every route of the API as a Call and the parser of its answer, shared by both clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from cloudnexus_client._http import Call
from cloudnexus_client.models import (
    Bucket,
    File,
    Health,
    Key,
    Link,
    Page,
    SigningKey,
    Token,
    Upload,
    Workspace,
)

T = TypeVar("T")


@dataclass
class Operation(Generic[T]):
    call: Call
    parse: Callable[[httpx.Response], T]


def _none(_: httpx.Response) -> None:
    return None


def _segment(value: str) -> str:
    return quote(value, safe="")


def _json_of(kind: Callable[[dict[str, Any]], T]) -> Callable[[httpx.Response], T]:
    return lambda response: kind(response.json())


def _items_of(kind: Callable[[dict[str, Any]], T]) -> Callable[[httpx.Response], list[T]]:
    return lambda response: [kind(item) for item in response.json()["items"]]


def health() -> Operation[Health]:
    """GET /health: the service's and its dependencies' state (503 answers too)."""
    return Operation(Call("GET", "/health", accepted=frozenset({503})), _json_of(Health.from_json))


def get_workspace() -> Operation[Workspace]:
    return Operation(Call("GET", "/v1/workspace"), _json_of(Workspace.from_json))


def create_key(name: str, scopes: Sequence[str],
               expires_at: datetime | None = None) -> Operation[Key]:
    """Create an API key; its `key` is shown in this answer only."""
    body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
    if expires_at is not None:
        body["expires_at"] = expires_at.isoformat()
    return Operation(Call("POST", "/v1/keys", json=body, creates=True), _json_of(Key.from_json))


def list_keys() -> Operation[list[Key]]:
    return Operation(Call("GET", "/v1/keys"), _items_of(Key.from_json))


def revoke_key(key_id: str) -> Operation[None]:
    return Operation(Call("DELETE", f"/v1/keys/{_segment(key_id)}"), _none)


def create_bucket(name: str, *, public: bool = False, max_file_size: int | None = None,
                  allowed_content_types: Sequence[str] | None = None) -> Operation[Bucket]:
    body = {"name": name, "public": public, "max_file_size": max_file_size,
            "allowed_content_types": list(allowed_content_types)
            if allowed_content_types is not None else None}
    return Operation(Call("POST", "/v1/buckets", json=body, creates=True),
                     _json_of(Bucket.from_json))


def list_buckets() -> Operation[list[Bucket]]:
    return Operation(Call("GET", "/v1/buckets"), _items_of(Bucket.from_json))


def get_bucket(name: str) -> Operation[Bucket]:
    return Operation(Call("GET", f"/v1/buckets/{_segment(name)}"), _json_of(Bucket.from_json))


def update_bucket(name: str, **changes: Any) -> Operation[Bucket]:
    """Change `public`, `max_file_size` or `allowed_content_types` (None lifts a limit)."""
    return Operation(Call("PATCH", f"/v1/buckets/{_segment(name)}", json=changes),
                     _json_of(Bucket.from_json))


def delete_bucket(name: str, *, force: bool = False) -> Operation[None]:
    params = {"force": "true"} if force else None
    return Operation(Call("DELETE", f"/v1/buckets/{_segment(name)}", params=params), _none)


def _file_page(response: httpx.Response) -> Page[File]:
    body = response.json()
    return Page([File.from_json(item) for item in body["items"]], body.get("next_cursor"))


def list_files_page(bucket: str, *, prefix: str | None = None, q: str | None = None,
                    tag: str | None = None, content_type: str | None = None,
                    created_by: str | None = None, sort: str = "path", order: str = "asc",
                    limit: int = 1000, cursor: str | None = None) -> Operation[Page[File]]:
    """One page of a bucket's files (`created_by`: a token's sub, or "key:<key id>")."""
    params = {"prefix": prefix, "q": q, "tag": tag, "content_type": content_type,
              "created_by": created_by, "sort": sort, "order": order, "limit": limit,
              "cursor": cursor}
    return Operation(Call("GET", f"/v1/buckets/{_segment(bucket)}/files", params=params),
                     _file_page)


def get_file(file_id: str) -> Operation[File]:
    return Operation(Call("GET", f"/v1/files/{_segment(file_id)}"), _json_of(File.from_json))


def content_url(file_id: str, *, download: bool = False) -> Operation[str]:
    """The presigned download URL that /content redirects to."""
    params = {"download": "true"} if download else None
    return Operation(Call("GET", f"/v1/files/{_segment(file_id)}/content", params=params),
                     lambda response: response.headers["Location"])


def update_file(file_id: str, *, path: str | None = None,
                metadata: dict[str, Any] | None = None, tags: Sequence[str] | None = None,
                if_match: str | None = None) -> Operation[File]:
    """Move a file or change its metadata or tags; with `if_match`, only at that etag."""
    body: dict[str, Any] = {}
    if path is not None:
        body["path"] = path
    if metadata is not None:
        body["metadata"] = metadata
    if tags is not None:
        body["tags"] = list(tags)
    headers = {"If-Match": if_match} if if_match else {}
    return Operation(Call("PATCH", f"/v1/files/{_segment(file_id)}", json=body, headers=headers),
                     _json_of(File.from_json))


def copy_file(file_id: str, path: str, *, bucket: str | None = None,
              overwrite: bool = False) -> Operation[File]:
    """Copy a file server-side (into `bucket`, or its own)."""
    body: dict[str, Any] = {"path": path, "overwrite": overwrite}
    if bucket is not None:
        body["bucket"] = bucket
    return Operation(Call("POST", f"/v1/files/{_segment(file_id)}/copy", json=body, creates=True),
                     _json_of(File.from_json))


def delete_file(file_id: str) -> Operation[None]:
    return Operation(Call("DELETE", f"/v1/files/{_segment(file_id)}"), _none)


def delete_files(bucket: str, *, ids: Sequence[str] | None = None,
                 prefix: str | None = None) -> Operation[int]:
    """Delete up to 1000 files by id, or every file under `prefix`; how many went."""
    body: dict[str, Any] = {"ids": list(ids)} if ids is not None else {"prefix": prefix}
    return Operation(Call("POST", f"/v1/buckets/{_segment(bucket)}/files:delete", json=body),
                     lambda response: int(response.json()["deleted"]))


def upload_direct(bucket: str, path: str, content: bytes, *, content_type: str,
                  metadata: dict[str, Any] | None = None, tags: Sequence[str] = (),
                  overwrite: bool = False) -> Operation[File]:
    """Upload a file in the request body (up to the server's direct-upload limit)."""
    import json

    data: dict[str, Any] = {"path": path, "overwrite": "true" if overwrite else "false"}
    if metadata:
        data["metadata"] = json.dumps(metadata)
    if tags:
        data["tags"] = list(tags)
    files = {"file": (path.rsplit("/", 1)[-1], content, content_type)}
    return Operation(Call("POST", f"/v1/buckets/{_segment(bucket)}/files", data=data, files=files,
                          creates=True), _json_of(File.from_json))


def create_upload(bucket: str, path: str, *, size: int, content_type: str,
                  sha256: str | None = None, metadata: dict[str, Any] | None = None,
                  tags: Sequence[str] = (), overwrite: bool = False,
                  multipart: bool = False) -> Operation[Upload]:
    """Declare a presigned upload: a single PUT, or multipart over the server's threshold."""
    body: dict[str, Any] = {"path": path, "size": size, "content_type": content_type,
                            "metadata": metadata or {}, "tags": list(tags),
                            "overwrite": overwrite, "multipart": multipart}
    if sha256:
        body["sha256"] = sha256
    return Operation(Call("POST", f"/v1/buckets/{_segment(bucket)}/uploads", json=body,
                          creates=True), _json_of(Upload.from_json))


def get_upload(upload_id: str, *, part_number_marker: int | None = None) -> Operation[Upload]:
    """The upload, its parts received and fresh URLs for the rest (1,000 at most a page)."""
    return Operation(Call("GET", f"/v1/uploads/{_segment(upload_id)}",
                          params={"part_number_marker": part_number_marker}),
                     _json_of(Upload.from_json))


def complete_upload(upload_id: str, parts: Sequence[tuple[int, str]] | None = None, *,
                    sha256: str | None = None) -> Operation[File]:
    """Complete an upload (multipart: with every part's number and etag); `sha256`, for an
    upload created without one, is checked as if it had been declared."""
    body: dict[str, Any] = {}
    if parts is not None:
        body["parts"] = [{"part_number": number, "etag": etag} for number, etag in sorted(parts)]
    if sha256 is not None:
        body["sha256"] = sha256
    return Operation(Call("POST", f"/v1/uploads/{_segment(upload_id)}/complete", json=body),
                     _json_of(File.from_json))


def abort_upload(upload_id: str) -> Operation[None]:
    return Operation(Call("DELETE", f"/v1/uploads/{_segment(upload_id)}"), _none)


def create_link(file_id: str, *, expires_in: int,
                max_downloads: int | None = None) -> Operation[Link]:
    body = {"expires_in": expires_in, "max_downloads": max_downloads}
    return Operation(Call("POST", f"/v1/files/{_segment(file_id)}/links", json=body, creates=True),
                     _json_of(Link.from_json))


def list_links(file_id: str) -> Operation[list[Link]]:
    return Operation(Call("GET", f"/v1/files/{_segment(file_id)}/links"),
                     _items_of(Link.from_json))


def revoke_link(link_id: str) -> Operation[None]:
    return Operation(Call("DELETE", f"/v1/links/{_segment(link_id)}"), _none)


def create_signing_key(name: str, algorithm: str = "HS256", *,
                       public_key: str | None = None) -> Operation[SigningKey]:
    """Add a key that signs delegated tokens: HS256 (its `secret` is in this answer only), or
    ES256 / EdDSA with the PEM `public_key` of a private key you keep."""
    body: dict[str, Any] = {"name": name, "algorithm": algorithm}
    if public_key is not None:
        body["public_key"] = public_key
    return Operation(Call("POST", "/v1/signing-keys", json=body, creates=True),
                     _json_of(SigningKey.from_json))


def list_signing_keys() -> Operation[list[SigningKey]]:
    return Operation(Call("GET", "/v1/signing-keys"), _items_of(SigningKey.from_json))


def delete_signing_key(signing_key_id: str) -> Operation[None]:
    """Delete a signing key: every token it signed stops working at once."""
    return Operation(Call("DELETE", f"/v1/signing-keys/{_segment(signing_key_id)}"), _none)


def create_token(sub: str, *, expires_in: int, buckets: Sequence[str], prefix: str,
                 ops: Sequence[str], max_file_size: int | None = None,
                 content_types: Sequence[str] | None = None) -> Operation[Token]:
    """Mint a delegated token for end user `sub`: `ops` ("list", "read", "write", "delete")
    in `buckets`, on paths under `prefix` only, for `expires_in` seconds (at most a day)."""
    grant: dict[str, Any] = {"buckets": list(buckets), "prefix": prefix, "ops": list(ops)}
    if max_file_size is not None:
        grant["max_file_size"] = max_file_size
    if content_types is not None:
        grant["content_types"] = list(content_types)
    body = {"sub": sub, "expires_in": expires_in, "cnx": grant}
    return Operation(Call("POST", "/v1/tokens", json=body, creates=True),
                     _json_of(Token.from_json))
