"""Uploads by size (direct, presigned PUT, parallel multipart with resume) and downloads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import mimetypes
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar

import httpx

from cloudnexus_client._http import SyncTransport, backoff_delay, raise_for
from cloudnexus_client.config import cache_dir
from cloudnexus_client.errors import (
    ApiError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TransferError,
)
from cloudnexus_client.models import File, Upload
from cloudnexus_client.operations import (
    Operation,
    complete_upload,
    content_url,
    create_upload,
    get_file,
    get_upload,
    upload_direct,
)

T = TypeVar("T")
CHUNK = 1024 * 1024
DEFAULT_DIRECT_LIMIT = 4 * 1024 * 1024  # the server's default DIRECT_UPLOAD_MAX_BYTES
DEFAULT_CONCURRENCY = 4
# From this size on, parts even below the server's MULTIPART_THRESHOLD: they go in parallel.
PARALLEL_PARTS_FROM = 32 * 1024 * 1024
PARTIAL_SUFFIX = ".cnxpart"
Progress = Callable[[int, int], None]
UploadSource = str | os.PathLike[str] | bytes | IO[bytes]
DownloadTarget = str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class UploadOutcome:
    """What an upload did: the File, the way it went, whether it resumed, bytes sent now."""

    file: File
    way: str  # "direct", "put" or "multipart"
    resumed: bool
    sent: int


@dataclass(frozen=True)
class DownloadOutcome:
    file: File
    resumed: bool
    received: int


class _Source:
    """The bytes to upload, readable by range from several threads at once."""

    def __init__(self, source: UploadSource) -> None:
        self.path: Path | None = None
        self._data: bytes | None = None
        self._handle: IO[bytes] | None = None
        self._spooled: IO[bytes] | None = None
        self._lock = threading.Lock()
        if isinstance(source, bytes):
            self._data = source
            self.size = len(source)
        elif isinstance(source, (str, os.PathLike)):
            self.path = Path(source).resolve()
            self.size = self.path.stat().st_size
        else:
            handle = source
            if not _seekable(handle):
                spooled = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
                while chunk := handle.read(CHUNK):
                    spooled.write(chunk)
                spooled.seek(0)
                self._spooled = handle = spooled
            start = handle.tell()
            self.size = handle.seek(0, os.SEEK_END) - start
            self._offset = start
            self._handle = handle

    def close(self) -> None:
        if self._spooled is not None:
            self._spooled.close()

    @property
    def mtime_ns(self) -> int:
        return self.path.stat().st_mtime_ns if self.path else 0

    def chunks(self, offset: int, length: int) -> Iterator[bytes]:
        """The bytes of [offset, offset + length), CHUNK at a time."""
        if self._data is not None:
            view = memoryview(self._data)
            for start in range(offset, offset + length, CHUNK):
                yield bytes(view[start:min(start + CHUNK, offset + length)])
            return
        if self.path is not None:
            with self.path.open("rb") as handle:
                handle.seek(offset)
                remaining = length
                while remaining > 0:
                    chunk = handle.read(min(CHUNK, remaining))
                    if not chunk:
                        raise TransferError(f"{self.path} became shorter while uploading")
                    remaining -= len(chunk)
                    yield chunk
            return
        shared: IO[bytes] | None = self._handle
        if shared is None:
            raise TransferError("the source is closed")
        position, remaining = self._offset + offset, length
        while remaining > 0:
            with self._lock:  # one handle shared by the part threads
                shared.seek(position)
                chunk = shared.read(min(CHUNK, remaining))
            if not chunk:
                raise TransferError("the file object became shorter while uploading")
            position += len(chunk)
            remaining -= len(chunk)
            yield chunk

    def read_all(self) -> bytes:
        return b"".join(self.chunks(0, self.size))

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks(0, self.size):
            digest.update(chunk)
        return digest.hexdigest()


class _Hashing:
    """The source's SHA-256, read in order on its own thread while the parts go out."""

    def __init__(self, source: _Source) -> None:
        self._source = source
        self._stopped = threading.Event()

    def run(self) -> str | None:
        digest = hashlib.sha256()
        for chunk in self._source.chunks(0, self._source.size):
            if self._stopped.is_set():
                return None
            digest.update(chunk)
        return digest.hexdigest()

    def stop(self) -> None:
        self._stopped.set()


def _seekable(handle: IO[bytes]) -> bool:
    try:
        return handle.seekable()
    except (AttributeError, ValueError, OSError):
        return False


class _Meter:
    """Bytes sent, reported to a progress callback; a failed try takes back what it sent."""

    def __init__(self, total: int, progress: Progress | None, done: int = 0) -> None:
        self.total, self.done, self.progress = total, done, progress
        self._lock = threading.Lock()
        self.sent = 0

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            self.sent += count
            done = self.done
        if self.progress:
            self.progress(done, self.total)


def _counted(chunks: Iterator[bytes], meter: _Meter, tally: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        tally[0] += len(chunk)
        meter.add(len(chunk))


class _ResumeState:
    """A small JSON file per (source, destination) naming the multipart upload in flight."""

    def __init__(self, source: _Source, base_url: str, bucket: str, path: str) -> None:
        self.file: Path | None = None
        if source.path is not None:
            key = json.dumps([str(source.path), base_url, bucket, path])
            name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".json"
            self.file = cache_dir() / "uploads" / name
        self.source = source

    def load(self) -> dict[str, Any] | None:
        if self.file is None:
            return None
        try:
            state = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if state.get("size") != self.source.size or state.get("mtime_ns") != self.source.mtime_ns:
            self.clear()  # the file changed: its parts are not these bytes
            return None
        return dict(state)

    def save(self, upload_id: str) -> None:
        if self.file is None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = {"upload_id": upload_id, "size": self.source.size,
                 "mtime_ns": self.source.mtime_ns}
        temporary = self.file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        temporary.replace(self.file)

    def clear(self) -> None:
        if self.file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.file.unlink()


def guess_content_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


class Transfers:
    """The transfer manager of a sync client."""

    def __init__(self, transport: SyncTransport, *, concurrency: int = DEFAULT_CONCURRENCY,
                 direct_limit: int = DEFAULT_DIRECT_LIMIT) -> None:
        self.transport = transport
        self.concurrency = concurrency
        self.direct_limit = direct_limit

    def run(self, operation: Operation[T]) -> T:
        return operation.parse(self.transport.send(operation.call))

    def upload(self, bucket: str, path: str, source: UploadSource, *,
               content_type: str | None = None, metadata: dict[str, Any] | None = None,
               tags: Sequence[str] | None = None, overwrite: bool = False,
               progress: Progress | None = None, resume: bool = True,
               multipart: bool = False, concurrency: int | None = None) -> UploadOutcome:
        """Upload `source` to bucket/path the way its size calls for."""
        opened = _Source(source)
        try:
            kind = content_type or guess_content_type(path)
            common: dict[str, Any] = {"content_type": kind, "metadata": metadata,
                                      "tags": tags or [], "overwrite": overwrite}
            if opened.size <= self.direct_limit and not multipart:
                try:
                    return self._direct(bucket, path, opened, common, progress)
                except PayloadTooLarge:
                    # The server's limit is lower than ours: learn it and go presigned.
                    self.direct_limit = max(0, opened.size - 1)
            return self._presigned(bucket, path, opened, common, progress, resume=resume,
                                   multipart=multipart or opened.size >= PARALLEL_PARTS_FROM,
                                   concurrency=concurrency or self.concurrency)
        finally:
            opened.close()

    def _direct(self, bucket: str, path: str, source: _Source, common: dict[str, Any],
                progress: Progress | None) -> UploadOutcome:
        content = source.read_all()
        file = self.run(upload_direct(bucket, path, content, **common))
        if file.sha256 and file.sha256 != hashlib.sha256(content).hexdigest():
            raise TransferError(f"{path}: the stored SHA-256 differs from the bytes sent")
        if progress:
            progress(source.size, source.size)
        return UploadOutcome(file, "direct", False, source.size)

    def _presigned(self, bucket: str, path: str, source: _Source, common: dict[str, Any],
                   progress: Progress | None, *, resume: bool, multipart: bool,
                   concurrency: int) -> UploadOutcome:
        state = _ResumeState(source, self.transport.base_url, bucket, path)
        saved = state.load() if resume else None
        if saved is not None:
            resumed = self._resumable(saved["upload_id"])
            if resumed is not None:
                return self._multipart(resumed, source, progress, state, concurrency,
                                       resumed=True)
            state.clear()
        # A single PUT's signature binds the SHA-256, so it is declared first; parts are hashed
        # while they go out and the SHA-256 named at complete (no pass over the file first).
        upload = self.run(create_upload(bucket, path, size=source.size,
                                        sha256=None if multipart else source.sha256(),
                                        multipart=multipart, **common))
        if upload.method == "PUT":
            return self._single(upload, source, progress)
        if resume:
            state.save(upload.id)
        return self._multipart(upload, source, progress, state, concurrency, resumed=False)

    def _resumable(self, upload_id: str) -> Upload | None:
        try:
            upload = self.run(get_upload(upload_id))
        except NotFound:
            return None
        return upload if upload.status == "pending" and upload.method == "MULTIPART" else None

    def _single(self, upload: Upload, source: _Source,
                progress: Progress | None) -> UploadOutcome:
        if upload.url is None:
            raise TransferError("the upload answered no URL")
        meter = _Meter(source.size, progress)
        headers = dict(upload.headers or {})
        headers.setdefault("Content-Length", str(source.size))

        def put() -> httpx.Response:
            tally = [0]
            try:
                return self.transport.storage.put(
                    upload.url or "", headers=headers,
                    content=_counted(source.chunks(0, source.size), meter, tally))
            except httpx.TransportError:
                meter.add(-tally[0])
                raise

        response = self.transport.retrying(put)
        # 412: a retried PUT whose first try had stored the bytes: complete checks them.
        if response.status_code != 412:
            raise_for(response)
        file = self.run(complete_upload(upload.id))
        return UploadOutcome(file, "put", False, meter.sent)

    def _part_urls(self, upload: Upload) -> dict[int, str]:
        urls = {part.part_number: part.url for part in upload.parts}
        page = upload
        for _ in range(10_000):  # bounded: 10,000 parts at most, 1,000 URLs a page
            if not page.parts_truncated or page.next_part_number_marker is None:
                break
            page = self.run(get_upload(upload.id, part_number_marker=page.next_part_number_marker))
            urls.update({part.part_number: part.url for part in page.parts})
        return urls

    def _multipart(self, upload: Upload, source: _Source, progress: Progress | None,
                   state: _ResumeState, concurrency: int, *, resumed: bool) -> UploadOutcome:
        if upload.part_size is None:
            raise TransferError("the multipart upload answered no part_size")
        part_size = upload.part_size
        count = max(1, -(-source.size // part_size))
        etags = {part.part_number: part.etag for part in upload.parts_received}
        already = sum(part.size for part in upload.parts_received)
        meter = _Meter(source.size, progress, done=already)
        if progress and already:
            progress(already, source.size)
        urls = self._part_urls(upload)
        lock = threading.Lock()

        def send_part(number: int) -> None:
            offset = (number - 1) * part_size
            length = min(part_size, source.size - offset)
            url = urls[number]
            for _ in range(2):  # a second time with a fresh URL when the first has expired
                response = self._put_part(url, source, offset, length, meter)
                if response.status_code != 403:
                    break
                url = self._part_urls_from(upload.id, number)
            raise_for(response)
            with lock:
                etags[number] = response.headers.get("ETag", "")

        missing = [number for number in range(1, count + 1) if number not in etags]
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=max(1, concurrency) + 1) as pool:
            hashing = _Hashing(source)
            digest = pool.submit(hashing.run)  # beside the parts, on a core of its own
            futures = [pool.submit(send_part, number) for number in missing]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [future for future in done if future.exception() is not None]
            if failed:
                hashing.stop()
                for future in futures:
                    future.cancel()
                error = failed[0].exception()
                if error is not None:
                    raise error
            sha256 = digest.result()
        try:
            file = self.run(complete_upload(upload.id, sorted(etags.items()), sha256=sha256))
        except ApiError as exc:
            if exc.status in (404, 422):  # the upload is over: a new run starts afresh
                state.clear()
            raise
        state.clear()
        return UploadOutcome(file, "multipart", resumed, meter.sent)

    def _part_urls_from(self, upload_id: str, number: int) -> str:
        fresh = self.run(get_upload(upload_id, part_number_marker=number - 1))
        for part in fresh.parts:
            if part.part_number == number:
                return part.url
        raise Forbidden(403, "forbidden", f"no URL for part {number}")

    def _put_part(self, url: str, source: _Source, offset: int, length: int,
                  meter: _Meter) -> httpx.Response:
        def put() -> httpx.Response:
            tally = [0]
            try:
                response = self.transport.storage.put(
                    url, headers={"Content-Length": str(length)},
                    content=_counted(source.chunks(offset, length), meter, tally))
            except httpx.TransportError:
                meter.add(-tally[0])
                raise
            if not response.is_success:
                meter.add(-tally[0])
            return response

        return self.transport.retrying(put)

    def download(self, file_id: str, target: DownloadTarget, *,
                 progress: Progress | None = None, resume: bool = True) -> DownloadOutcome:
        """Stream a file to `target` (a path or a binary file object); resume with Range."""
        file = self.run(get_file(file_id))
        if not isinstance(target, (str, os.PathLike)):
            received = self._stream(file, target, 0, progress)
            return DownloadOutcome(file, False, received)
        destination = Path(target)
        partial = destination.with_name(destination.name + PARTIAL_SUFFIX)
        offset = partial.stat().st_size if resume and partial.exists() else 0
        if offset > file.size:
            offset = 0
        destination.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            received = self._stream(file, out, offset, progress)
        if file.sha256:
            digest = hashlib.sha256()
            with partial.open("rb") as check:
                while chunk := check.read(CHUNK):
                    digest.update(chunk)
            if digest.hexdigest() != file.sha256:
                partial.unlink()
                raise TransferError(f"{file.path}: the bytes received differ from its SHA-256")
        partial.replace(destination)
        return DownloadOutcome(file, offset > 0, received)

    def _stream(self, file: File, out: BinaryIO | IO[bytes], offset: int,
                progress: Progress | None) -> int:
        """Write the file's bytes from `offset` on to `out`; retried from where it stopped."""
        position, url = offset, self.run(content_url(file.id))
        received = 0
        for attempt in range(self.transport.retries + 1):
            if position >= file.size:
                break
            headers = {"Range": f"bytes={position}-"} if position else {}
            try:
                with self.transport.storage.stream("GET", url, headers=headers) as response:
                    if response.status_code == 403:  # the URL expired: sign another
                        url = self.run(content_url(file.id))
                        continue
                    if response.status_code not in (200, 206):
                        response.read()
                        raise_for(response)
                    if response.status_code == 200 and position:
                        if not _restartable(out):
                            raise TransferError("the server ignored Range on a stream")
                        out.seek(0)
                        out.truncate()
                        position = 0
                    for chunk in response.iter_bytes(CHUNK):
                        out.write(chunk)
                        position += len(chunk)
                        received += len(chunk)
                        if progress:
                            progress(position, file.size)
            except httpx.TransportError:
                if attempt >= self.transport.retries:
                    raise
                time.sleep(backoff_delay(attempt, None))
        if file.size == 0 and progress:
            progress(0, 0)
        return received


def _restartable(out: IO[bytes]) -> bool:
    return _seekable(out)
