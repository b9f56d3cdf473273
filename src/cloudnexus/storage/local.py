"""The embedded default's storage: files under DATA_DIR/objects, URLs signed by this app."""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO
from urllib.parse import quote

from cloudnexus.config import Settings
from cloudnexus.limits import MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES
from cloudnexus.storage.base import (
    PENDING_STATE,
    MultipartUpload,
    NotAwaited,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    PresignedRequest,
    StorageError,
    UploadedPart,
)
from cloudnexus.storage.disposition import content_disposition
from cloudnexus.storage.signing import PUBLIC_PATH, Grant, Signer, expiry, load_or_create_key
from cloudnexus.storage.staging import (
    StagedFile,
    check_key,
    read_json,
    read_metadata,
    sidecar,
    write_json,
    write_metadata,
)

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class LocalStorage:
    """Objects as files (their metadata on them: see staging.py); multipart parts too."""

    name = "local"
    remote = False

    def __init__(self, data_dir: Path, base_url: str) -> None:
        self.root = data_dir / "objects"
        self.multipart_root = data_dir / "multipart"
        self.key_path = data_dir / "signing.key"
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStorage:
        return cls(settings.data_dir, str(settings.public_url or "http://127.0.0.1:8000"))

    @functools.cached_property
    def signer(self) -> Signer:
        return Signer(load_or_create_key(self.key_path))

    def path_of(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".probe-{secrets.token_hex(8)}"
        probe.write_bytes(b"ok")
        probe.unlink()

    def staged(self, key: str, *, limit: int | None = None) -> StagedFile:
        return StagedFile(self.path_of(key), limit=limit)

    def save(self, key: str, staged: StagedFile, *, content_type: str,
             pending: bool = False) -> ObjectInfo:
        """Make a staged file the object, with its metadata."""
        document = _metadata(staged, content_type)
        if pending:
            document["state"] = PENDING_STATE
        staged.describe(document)
        staged.commit()
        # What was just written, not read back: head() would read the metadata again.
        return ObjectInfo(key=key, size=staged.size, content_type=content_type,
                          etag=staged.etag, sha256=staged.sha256,
                          last_modified=datetime.fromtimestamp(staged.dest.stat().st_mtime, UTC))

    def check_awaited(self, key: str) -> None:
        """ObjectExists when the presigned PUT of `key` was already stored (as S3 answers a PUT
        signed with If-None-Match: *, even for the same bytes sent again); NotAwaited when
        its upload has ended since the URL was signed (delete() withdrew it)."""
        path = self.path_of(key)
        if path.exists():
            raise ObjectExists(key)
        if not _awaiting(path).exists():
            raise NotAwaited(key)

    def save_awaited(self, key: str, staged: StagedFile, *, content_type: str) -> ObjectInfo:
        """Store the bytes of a presigned PUT, pending, if the key still awaits them."""
        self.check_awaited(key)
        info = self.save(key, staged, content_type=content_type, pending=True)
        _awaiting(self.path_of(key)).unlink(missing_ok=True)
        return info

    def is_pending(self, key: str) -> bool:
        return read_metadata(self.path_of(key)).get("state") == PENDING_STATE

    def mark_ready(self, key: str) -> None:
        path = self.path_of(key)
        document = read_metadata(path)
        if not document or not path.is_file():
            raise ObjectNotFound(key)
        document.pop("state", None)
        try:
            write_metadata(path, document)
        except FileNotFoundError:  # deleted since it was read
            raise ObjectNotFound(key) from None

    def put(self, key: str, body: BinaryIO, *, content_type: str,
            sha256: str | None = None, size: int | None = None) -> ObjectInfo:
        with self.staged(key) as staged:
            staged.copy_from(body)
            if sha256 is not None and staged.sha256 != sha256:
                raise ValueError("The body does not match its SHA-256")
            if size is not None and staged.size != size:
                raise ValueError(f"The body is {staged.size} bytes, not {size}")
            return self.save(key, staged, content_type=content_type)

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path_of(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    def read_head(self, key: str, length: int) -> bytes:
        with self.open(key) as body:
            return body.read(length)

    def create(self, key: str, data: bytes, *, content_type: str) -> None:
        with self.staged(key) as staged:
            staged.write(data)
            staged.describe(_metadata(staged, content_type))
            try:
                staged.link()
            except FileExistsError:
                raise ObjectExists(key) from None

    def head(self, key: str) -> ObjectInfo:
        return self.stat(key)[0]

    def stat(self, key: str) -> tuple[ObjectInfo, os.stat_result]:
        """The object's info and its file's stat (which a download's headers are made of)."""
        path = self.path_of(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        if not S_ISREG(stat.st_mode):
            raise ObjectNotFound(key)
        meta = read_metadata(path)
        matches = meta.get("size") == stat.st_size  # else a sidecar is another write's
        return ObjectInfo(key=key, size=stat.st_size, content_type=meta.get("content_type"),
                          etag=meta.get("etag") if matches else None,
                          sha256=meta.get("sha256") if matches else None,
                          last_modified=datetime.fromtimestamp(stat.st_mtime, UTC)), stat

    def delete(self, key: str) -> None:
        path = self.path_of(key)
        _awaiting(path).unlink(missing_ok=True)  # first: no PUT may land after the delete
        path.unlink(missing_ok=True)
        sidecar(path).unlink(missing_ok=True)  # (an object stored with one)

    def copy(self, source_key: str, dest_key: str) -> None:
        content_type = self.head(source_key).content_type or "application/octet-stream"
        with self.open(source_key) as body, self.staged(dest_key) as staged:
            staged.copy_from(body)
            self.save(dest_key, staged, content_type=content_type)

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        folder = prefix.rpartition("/")[0]
        start = self.path_of(folder) if folder else self.root
        for directory, subdirectories, files in os.walk(start):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            for name in sorted(f for f in files if not f.startswith(".")):
                key = (Path(directory) / name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    try:
                        yield self.head(key)
                    except ObjectNotFound:  # deleted while walking
                        continue

    def presign_get(self, key: str, *, expires_in: int, download_name: str | None = None) -> str:
        disposition = content_disposition(download_name) if download_name else None
        grant = Grant("GET", check_key(key), expiry(expires_in), disposition=disposition)
        return self.signer.url(self.base_url, grant)

    def presign_put(self, key: str, *, content_type: str, size: int, sha256: str | None,
                    expires_in: int) -> PresignedRequest:
        if sha256 is not None and not _SHA256.fullmatch(sha256 := sha256.lower()):
            raise ValueError("sha256 must be 64 hexadecimal digits")
        if size < 0:
            raise ValueError("size must not be negative")
        grant = Grant("PUT", check_key(key), expiry(expires_in), content_type=content_type,
                      content_length=size, sha256=sha256)
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        _awaiting(path).touch()  # withdrawn by delete(): an aborted upload's URL stops working
        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        return PresignedRequest("PUT", self.signer.url(self.base_url, grant), headers)

    def public_url(self, key: str) -> str:
        if not check_key(key).startswith("uploads/"):
            raise ValueError(f"only keys under uploads/ have a public URL: {key!r}")
        return f"{self.base_url}{PUBLIC_PATH}/{quote(key, safe='/')}"

    # Multipart: DATA_DIR/multipart/<upload id>/{upload.json, <n>}.

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        folder = self.multipart_root / upload_id
        if _UPLOAD_ID.fullmatch(upload_id) and read_json(folder / "upload.json").get("key") == key:
            return folder
        raise ObjectNotFound(f"{key} (upload {upload_id})")

    def create_multipart(self, key: str, *, content_type: str) -> str:
        upload_id = secrets.token_hex(16)
        folder = self.multipart_root / upload_id
        folder.mkdir(parents=True)
        write_json(folder / "upload.json", {"key": check_key(key), "content_type": content_type,
                                             "initiated": datetime.now(UTC).isoformat()})
        return upload_id

    def presign_part(self, key: str, upload_id: str, part_number: int, *, size: int,
                     expires_in: int) -> str:
        if not 1 <= part_number <= MAX_PARTS:
            raise ValueError(f"part_number must be 1..{MAX_PARTS}")
        if not 0 <= size <= MAX_PART_BYTES:
            raise ValueError(f"a part is 0..{MAX_PART_BYTES} bytes")
        grant = Grant("PUT", check_key(key), expiry(expires_in), content_length=size,
                      upload_id=upload_id, part_number=part_number)
        return self.signer.url(self.base_url, grant)

    def staged_part(self, key: str, upload_id: str, part_number: int, *,
                    size: int) -> StagedFile:
        dest = self._upload_dir(key, upload_id) / str(part_number)
        try:  # never recreate the folder of an upload aborted meanwhile
            return StagedFile(dest, limit=size, make_parents=False)
        except FileNotFoundError:
            raise ObjectNotFound(f"{key} (upload {upload_id})") from None

    def save_part(self, staged: StagedFile) -> UploadedPart:
        part = UploadedPart(int(staged.dest.name), staged.etag, staged.size)
        staged.describe({"etag": part.etag, "size": part.size})
        staged.commit()
        return part

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        folder = self._upload_dir(key, upload_id)
        parts = []
        for path in folder.iterdir():
            meta = read_metadata(path) if path.name.isdigit() else {}
            if meta and path.is_file() and meta.get("size") == path.stat().st_size:
                parts.append(UploadedPart(int(path.name), meta["etag"], meta["size"]))
        return sorted(parts, key=lambda part: part.part_number)

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        folder = self._upload_dir(key, upload_id)
        received = {part.part_number: part for part in self.list_parts(key, upload_id)}
        numbers = [part.part_number for part in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise StorageError("parts must be listed once each, in ascending part_number order")
        for index, part in enumerate(parts, 1):
            stored = received.get(part.part_number)
            if stored is None or stored.etag.strip('"') != part.etag.strip('"'):
                raise StorageError(f"part {part.part_number} was not received with that etag")
            if index < len(parts) and stored.size < MIN_PART_BYTES:
                raise StorageError(f"part {part.part_number} is under {MIN_PART_BYTES} bytes")
        content_type = read_json(folder / "upload.json")["content_type"]
        with self.staged(key) as staged:
            for part in parts:
                with (folder / str(part.part_number)).open("rb") as body:
                    staged.copy_from(body)
            self.save(key, staged, content_type=content_type, pending=True)
        shutil.rmtree(folder, ignore_errors=True)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            shutil.rmtree(self._upload_dir(key, upload_id), ignore_errors=True)
        except ObjectNotFound:
            return

    def list_multipart(self, prefix: str) -> Iterator[MultipartUpload]:
        if not self.multipart_root.is_dir():
            return
        for folder in sorted(self.multipart_root.iterdir()):
            meta = read_json(folder / "upload.json")
            key, initiated = meta.get("key"), meta.get("initiated")
            if not (_UPLOAD_ID.fullmatch(folder.name) and isinstance(key, str)):
                continue
            if key.startswith(prefix):
                yield MultipartUpload(key, folder.name,
                                      datetime.fromisoformat(initiated) if initiated else None)


def _metadata(staged: StagedFile, content_type: str) -> dict[str, object]:
    return {"content_type": content_type, "size": staged.size, "sha256": staged.sha256,
            "etag": staged.etag}


def _awaiting(path: Path) -> Path:
    """The marker of a presigned PUT that may still store `path` (a hidden name: no key)."""
    return path.with_name(f".{path.name}.awaiting")
