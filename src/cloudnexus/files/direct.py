"""Direct upload: the multipart/form-data body is parsed as it streams in (Starlette spools
the file part: memory up to 1 MiB, then disk), cut off as soon as it passes the limit, and
the part is measured and hashed as it arrives, so storage reads it once, to send it on. A
large part can be sent on while it is still arriving (see forwarding.py)."""

import functools
import hashlib
import json
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import anyio
from pydantic import TypeAdapter, ValidationError
from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from cloudnexus.auth.grants import Grant
from cloudnexus.errors import BadRequest, PayloadTooLarge, ValidationFailed
from cloudnexus.files.forwarding import FORWARD_FROM, Forward, SpoolPipe
from cloudnexus.files.paths import check_path
from cloudnexus.files.schemas import Metadata, Tags, media_type

FORM_OVERHEAD = 64 * 1024  # room for the other fields and the part headers

# Given the file part's content type and its spool, the upload that sends it on as it
# arrives, or None to store it once it has arrived.
Forwarder = Callable[[str, SpoolPipe], Forward | None]


@dataclass
class DirectUpload:
    body: BinaryIO
    size: int
    sha256: str
    filename: str | None
    content_type: str
    path: str  # checked (paths.check_path)
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    overwrite: bool = False
    bucket_id: uuid.UUID | None = None  # set by the route's dependency, with the file's id
    file_id: uuid.UUID = field(default_factory=uuid.uuid4)  # the record's, and its object's
    forward: Forward | None = None  # the part's upload, when it was sent on as it arrived
    created_by: str | None = None  # set by the route's dependency, with what its token allows
    grant: Grant | None = None


@functools.cache
def _field_adapters() -> tuple[TypeAdapter[Metadata], TypeAdapter[Tags]]:
    """Built on the first upload, not for each (about 1 ms) nor at import (cold start)."""
    return TypeAdapter(Metadata), TypeAdapter(Tags)


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Direct uploads take at most {limit} bytes; for larger files create "
                           "a presigned upload with POST /v1/buckets/{bucket}/uploads")


async def _capped(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit + FORM_OVERHEAD:
            raise too_large(limit)
        yield chunk


async def read_form(request: Request, limit: int,
                    forwarder: Forwarder | None = None) -> DirectUpload:
    """Parse the form fields of a direct upload; 413 past `limit`, 400 when malformed."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_large(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("Send the file as multipart/form-data with a 'file' field")
    parser = _HashingParser(request.headers, _capped(request.stream(), limit),
                            forwarder if declared and declared.isdigit() else None,
                            max_files=1, max_fields=100)
    try:
        upload = await _read(parser, limit)
    except BaseException:
        if parser.forward is not None:
            with anyio.CancelScope(shield=True):  # a client that hung up still stops it
                await parser.forward.abandon()
        raise
    if parser.forward is not None:
        parser.forward.end(parser.size)
        upload.forward = parser.forward
    return upload


async def _read(parser: "_HashingParser", limit: int) -> DirectUpload:
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"Malformed multipart body: {exc.message}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise BadRequest("The form has no 'file' part")
    if parser.size > limit:
        raise too_large(limit)
    size, digest = parser.size, parser.sha256.hexdigest()
    upload.file.seek(0)
    try:
        metadata = json.loads(_text(form.get("metadata")) or "{}")
    except (ValueError, RecursionError):  # not JSON, a number too long to read, too deep
        raise BadRequest("'metadata' is not JSON text this service can read") from None
    content_type = _part_type(upload)
    if content_type is None:
        raise ValidationFailed(details=[{
            "loc": ["body", "file"], "type": "value_error",
            "message": "the part's Content-Type must be a media type like 'text/plain'"}])
    metadata_adapter, tags_adapter = _field_adapters()
    try:
        return DirectUpload(
            body=upload.file, size=size, sha256=digest, filename=upload.filename,
            content_type=content_type,
            path=check_path(_text(form.get("path")) or upload.filename or ""),
            metadata=metadata_adapter.validate_python(metadata),
            tags=tags_adapter.validate_python([_text(tag) for tag in form.getlist("tags")]),
            overwrite=(_text(form.get("overwrite")) or "false").lower() in ("true", "1", "yes"),
        )
    except ValidationError as exc:
        details = [{"loc": ["body", *error["loc"]], "message": error["msg"],
                    "type": error["type"]} for error in exc.errors()]
        raise ValidationFailed(details=details) from None


def _part_type(upload: UploadFile) -> str | None:
    """The file part's content type, normalized; None when it is none (see media_type)."""
    return media_type((upload.content_type or "").strip(" \t") or "application/octet-stream")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadRequest("Only 'file' may be a file part")


class _HashingParser(MultiPartParser):
    """Starlette's parser, also sizing and hashing the (one) file part as its bytes arrive,
    and handing a large last part to `forwarder` as it begins."""

    def __init__(self, headers: Any, stream: AsyncIterator[bytes],
                 forwarder: Forwarder | None, **kwargs: Any) -> None:
        super().__init__(headers, self._counted(stream), **kwargs)
        self.size, self.sha256 = 0, hashlib.sha256()
        self.forwarder = forwarder
        self.forward: Forward | None = None
        self._chunk, self._before_chunk = b"", 0  # the chunk being parsed, the bytes before it

    async def _counted(self, stream: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
        async for chunk in stream:
            self._before_chunk += len(self._chunk)
            self._chunk = chunk
            yield chunk

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._current_part.file
        if upload is None:
            super().on_part_data(data, start, end)
            return
        if self.size == 0:
            self._begin_forward(upload, data, start)
        # Written to the spool here, on the event loop, not queued for Starlette to write: once
        # the spool is on disk it sends each chunk to a worker thread, a hop that costs far more
        # than the write (which lands in the page cache): 3/4 of parsing a 4 MiB file.
        chunk = memoryview(data)[start:end]
        upload.file.write(chunk)
        self.size += len(chunk)
        self.sha256.update(chunk)
        if self.forward is not None:
            self.forward.pipe.wrote(len(chunk))

    def _begin_forward(self, upload: UploadFile, data: bytes, start: int) -> None:
        """Forward the part if it is foreseeably large: when it is the form's last, its length
        is what the Content-Length leaves after its headers, less the closing boundary."""
        if data is not self._chunk or self.forwarder is None:  # not at a known offset
            return
        _, params = parse_options_header(self.headers["Content-Type"])
        closing = len(b"\r\n--" + params[b"boundary"] + b"--\r\n")
        length = int(self.headers["Content-Length"]) - self._before_chunk - start - closing
        content_type = _part_type(upload)
        if length < FORWARD_FROM or content_type is None:  # (refused once it has arrived)
            return
        # A file of its own, written unbuffered, for the upload to read from another thread.
        spool = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - closed with the form
        # Starlette's list is typed for its SpooledTemporaryFiles; it only closes them.
        self._files_to_close_on_error.append(spool)  # type: ignore[arg-type]
        upload.file.close()
        upload.file = spool
        self.forward = self.forwarder(content_type, SpoolPipe(spool, length))
