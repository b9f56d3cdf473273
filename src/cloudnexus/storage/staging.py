"""Files on disk for the local backend: safe keys, staged writes, each object's metadata.

An object's metadata (content type, size, SHA-256, etag, state) is a JSON document kept on
its file, in the extended attribute `user.cloudnexus`, so that the rename that publishes
the bytes publishes it too, and storing an object creates one file, not two. Where the
system or filesystem takes no such attribute (macOS, some network filesystems), and for
objects stored before, it is a hidden JSON sidecar beside the file instead.
"""

from __future__ import annotations

import errno
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
METADATA_ATTRIBUTE = "user.cloudnexus"
# What setxattr answers where the filesystem takes no (or no more) user attributes.
_NOT_TAKEN = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.E2BIG, errno.ENOSPC})
# What getxattr answers for a file without the attribute, or a filesystem without any.
_NOT_THERE = frozenset({errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP})


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
        self._sidecar: dict[str, Any] | None = None  # metadata the file could not take

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

    def describe(self, document: dict[str, Any]) -> None:
        """The metadata to publish with the file: on it, else in the sidecar written just
        before the file is renamed (commit) or just after it is linked (link)."""
        self._sidecar = None if _attach(self._file.fileno(), document) else document

    def commit(self) -> None:
        """Publish the file under its name, replacing what was there."""
        self._file.close()
        if self._sidecar is not None:  # first, so that a reader can spot a torn write
            write_json(sidecar(self.dest), self._sidecar)
        os.replace(self.path, self.dest)
        self._committed = True

    def link(self) -> None:
        """Publish the whole file under its name, or FileExistsError if the name is taken."""
        self._file.close()
        os.link(self.path, self.dest)
        if self._sidecar is not None:
            write_json(sidecar(self.dest), self._sidecar)

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
        return _document(path.read_bytes())
    except OSError:
        return {}


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata of the file at `path`: its attribute, else its sidecar; {} when it has
    neither or is gone."""
    if hasattr(os, "getxattr"):  # (Linux only)
        try:
            return _document(os.getxattr(path, METADATA_ATTRIBUTE))
        except OSError as exc:
            if exc.errno not in _NOT_THERE:
                return {}
    return read_json(sidecar(path))


def write_metadata(path: Path, document: dict[str, Any]) -> None:
    """Replace the metadata of the existing file at `path`."""
    if _attach(path, document):
        sidecar(path).unlink(missing_ok=True)  # an object stored before: now stale
    else:
        write_json(sidecar(path), document)


def takes_attributes(folder: Path) -> bool:
    """Whether files made in `folder` keep their metadata on them (else in sidecars)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder) as probe:
        return _attach(probe.fileno(), {})


def _attach(target: int | Path, document: dict[str, Any]) -> bool:
    """Set the metadata attribute of a file (a path or an open descriptor); False where it
    takes none."""
    if not hasattr(os, "setxattr"):
        return False
    try:
        os.setxattr(target, METADATA_ATTRIBUTE, json.dumps(document).encode())
    except OSError as exc:
        if exc.errno in _NOT_TAKEN:
            return False
        raise
    return True


def _document(text: bytes) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.json")
