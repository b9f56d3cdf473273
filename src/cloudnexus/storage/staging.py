"""Files on disk for the local backend: safe keys, staged writes, JSON sidecars."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from cloudnexus.limits import MiB
from cloudnexus.storage.base import StorageError

CHUNK = MiB  # read and written at a time
ETAG_HEX_DIGITS = 32  # as long as S3's (an MD5's)


class BodyTooLarge(StorageError):
    """More bytes arrived than the upload allows."""


def check_key(key: str) -> str:
    """The key, or ValueError when it could leave the root or name a hidden file."""
    segments = key.split("/")
    if not key or "\0" in key or "\\" in key or any(s in {"", ".", ".."} for s in segments):
        raise ValueError(f"unsafe storage key: {key!r}")
    if any(segment.startswith(".") for segment in segments):  # sidecars and temp files
        raise ValueError(f"storage key segments may not start with '.': {key!r}")
    return key


class StagedFile:
    """A temp file beside its destination, counted and hashed while written; discarded on error."""

    def __init__(self, dest: Path, *, limit: int | None = None, make_parents: bool = True) -> None:
        if make_parents:
            dest.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=dest.parent, prefix=".", suffix=".tmp")
        self.dest, self.path, self.limit, self.size = dest, Path(name), limit, 0
        self._file, self._committed = os.fdopen(descriptor, "wb"), False
        self._sha256 = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        if self.limit is not None and self.size + len(chunk) > self.limit:
            raise BodyTooLarge(f"the body is longer than {self.limit} bytes")
        self._file.write(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)

    def copy_from(self, body: BinaryIO) -> None:
        while chunk := body.read(CHUNK):
            self.write(chunk)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def etag(self) -> str:
        """An opaque etag, as S3's (quoted hex), made of the SHA-256 taken anyway: an MD5 as
        S3 makes it would cost more CPU than the SHA-256 on every byte stored."""
        return f'"{self.sha256[:ETAG_HEX_DIGITS]}"'

    def close(self) -> None:
        """Flush the bytes to the file (before another name is linked to it)."""
        self._file.close()

    def commit(self) -> None:
        self._file.close()
        os.replace(self.path, self.dest)
        self._committed = True

    def discard(self) -> None:
        self._file.close()
        if not self._committed:  # a committed temp name may already be another writer's
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.discard()


def write_json(path: Path, document: dict[str, Any]) -> None:
    temp = path.with_name(f".{secrets.token_hex(8)}.tmp")
    temp.write_text(json.dumps(document))
    os.replace(temp, path)


def read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.json")
