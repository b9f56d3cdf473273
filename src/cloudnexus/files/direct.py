"""Direct upload: the multipart/form-data body is parsed as it streams in, with the request's
stream and python-multipart's streaming parser (the file part is spooled: memory up to
1 MiB, then disk), cut off as soon as it passes the limit, and the part is measured and
hashed as it arrives, so storage reads it once, to send it on. A large part can be sent on
while it is still arriving (see forwarding.py)."""

import codecs
import functools
import hashlib
import json
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

import anyio
from pydantic import TypeAdapter, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from cloudnexus.auth.grants import Grant
from cloudnexus.buckets.reads import BucketSettings
from cloudnexus.errors import BadRequest, PayloadTooLarge, ValidationFailed
from cloudnexus.files.forwarding import FORWARD_FROM, Forward, SpoolPipe
from cloudnexus.files.paths import check_path
from cloudnexus.files.schemas import Metadata, Tags, media_type
from cloudnexus.limits import MiB

FORM_OVERHEAD = 64 * 1024  # room for the other fields and the part headers
MAX_PARTS = 101  # the file and at most 100 fields

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
    # The bucket named in the path, as read before the body: set by the route's dependency.
    bucket: BucketSettings | None = None
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
    media, params = parse_options_header(request.headers.get("content-type", ""))
    if media != b"multipart/form-data":
        raise BadRequest("Send the file as multipart/form-data with a 'file' field")
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("Malformed multipart body: no boundary")
    form = _Form(boundary, _charset(params),
                 int(declared) if declared and declared.isdigit() and forwarder else None,
                 forwarder)
    try:
        async for chunk in _capped(request.stream(), limit):
            form.feed(chunk)
        form.finish()
        upload = _upload(form, limit)
    except BaseException:
        form.close()
        if form.forward is not None:
            with anyio.CancelScope(shield=True):  # a client that hung up still stops it
                await form.forward.abandon()
        raise
    if form.forward is not None:
        form.forward.end(form.size)
        upload.forward = form.forward
    return upload


def _charset(params: dict[bytes, bytes]) -> str:
    try:
        return codecs.lookup(params.get(b"charset", b"utf-8").decode("latin-1")).name
    except LookupError:
        return "latin-1"


def _upload(form: "_Form", limit: int) -> DirectUpload:
    if form.file is None or form.file_name != "file":  # (the one file part is 'file')
        raise BadRequest("The form has no 'file' part")
    if form.size > limit:
        raise too_large(limit)
    form.file.seek(0)
    fields = form.fields
    try:
        metadata = json.loads(_last(fields, "metadata") or "{}")
    except (ValueError, RecursionError):  # not JSON, a number too long to read, too deep
        raise BadRequest("'metadata' is not JSON text this service can read") from None
    content_type = form.content_type
    if content_type is None:
        raise ValidationFailed(details=[{
            "loc": ["body", "file"], "type": "value_error",
            "message": "the part's Content-Type must be a media type like 'text/plain'"}])
    metadata_adapter, tags_adapter = _field_adapters()
    try:
        return DirectUpload(
            body=form.file, size=form.size, sha256=form.sha256.hexdigest(),
            filename=form.filename, content_type=content_type,
            path=check_path(_last(fields, "path") or form.filename or ""),
            metadata=metadata_adapter.validate_python(metadata),
            tags=tags_adapter.validate_python(fields.get("tags", [])),
            overwrite=(_last(fields, "overwrite") or "false").lower() in ("true", "1", "yes"),
        )
    except ValidationError as exc:
        details = [{"loc": ["body", *error["loc"]], "message": error["msg"],
                    "type": error["type"]} for error in exc.errors()]
        raise ValidationFailed(details=details) from None


def _last(fields: dict[str, list[str]], name: str) -> str | None:
    """A field's value (the last, if sent more than once)."""
    values = fields.get(name)
    return values[-1] if values else None


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _Form:
    """python-multipart's streaming parser, fed the request's body as it arrives: the text
    fields kept, and the one file part spooled (memory up to 1 MiB, then disk), sized and
    hashed as its bytes arrive; a large last part is handed to `forwarder` as it begins."""

    def __init__(self, boundary: bytes, charset: str, content_length: int | None,
                 forwarder: Forwarder | None) -> None:
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._on_part_begin, "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end, "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value, "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished})
        self._closing = len(b"\r\n--" + boundary + b"--\r\n")
        self._charset, self._content_length, self._forwarder = charset, content_length, forwarder
        self.fields: dict[str, list[str]] = {}
        self.file: BinaryIO | None = None
        self.file_name: str | None = None  # the file part's field name
        self.filename: str | None = None
        self.content_type: str | None = None
        self.size, self.sha256 = 0, hashlib.sha256()
        self.forward: Forward | None = None
        self._count = 0  # the parts so far
        self._chunk, self._before_chunk = b"", 0  # the chunk being parsed, the bytes before it
        self._header: tuple[bytes, bytes] = (b"", b"")
        self._headers: dict[bytes, bytes] = {}
        self._name, self._value, self._in_file = "", bytearray(), False

    def feed(self, chunk: bytes) -> None:
        self._before_chunk += len(self._chunk)
        self._chunk = chunk
        try:
            self._parser.write(chunk)
        except FormParserError:
            raise BadRequest("Malformed multipart body") from None

    def finish(self) -> None:
        try:
            self._parser.finalize()
        except FormParserError:
            raise BadRequest("Malformed multipart body") from None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def _on_part_begin(self) -> None:
        self._headers, self._value, self._in_file = {}, bytearray(), False

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header = (self._header[0] + data[start:end], self._header[1])

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header = (self._header[0], self._header[1] + data[start:end])

    def _on_header_end(self) -> None:
        name, value = self._header
        self._headers[name.lower()] = value
        self._header = (b"", b"")

    def _on_headers_finished(self) -> None:
        self._count += 1
        if self._count > MAX_PARTS:
            raise BadRequest(f"Malformed multipart body: more than {MAX_PARTS} parts")
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise BadRequest("Malformed multipart body: a part without a name")
        self._name = _decode(options[b"name"], self._charset)
        if b"filename" not in options:
            return
        if self.file is not None:
            raise BadRequest("Malformed multipart body: more than one file part")
        self._in_file, self.file_name = True, self._name
        self.filename = _decode(options[b"filename"], self._charset)
        raw_type = _decode(self._headers.get(b"content-type", b""), self._charset)
        self.content_type = media_type(raw_type.strip(" \t") or "application/octet-stream")
        # typeshed's SpooledTemporaryFile is an IO[bytes], short of BinaryIO's few extras.
        self.file = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=MiB))  # noqa: SIM115

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        file = self.file if self._in_file else None
        if file is None:
            if len(self._value) + end - start > MiB:
                raise BadRequest(f"Malformed multipart body: '{self._name}' is over 1 MiB")
            self._value += data[start:end]
            return
        if self.size == 0:
            file = self._begin_forward(file, data, start)
        # Written to the spool here, on the event loop: once the spool is on disk, a hop to a
        # worker thread for each chunk would cost far more than the write (which lands in the
        # page cache).
        chunk = memoryview(data)[start:end]
        file.write(chunk)
        self.size += len(chunk)
        self.sha256.update(chunk)
        if self.forward is not None:
            self.forward.pipe.wrote(len(chunk))

    def _on_part_end(self) -> None:
        if not self._in_file:
            self.fields.setdefault(self._name, []).append(_decode(bytes(self._value),
                                                                  self._charset))

    def _begin_forward(self, file: BinaryIO, data: bytes, start: int) -> BinaryIO:
        """Forward the part if it is foreseeably large: when it is the form's last, its length
        is what the Content-Length leaves after its headers, less the closing boundary. The
        file to write the part to: its spool, or the forward's."""
        if data is not self._chunk or self._forwarder is None or self._content_length is None:
            return file  # not at a known offset, or nothing to forward to
        length = self._content_length - self._before_chunk - start - self._closing
        if length < FORWARD_FROM or self.content_type is None:  # (refused once it has arrived)
            return file
        # A file of its own, written unbuffered, for the upload to read from another thread.
        spool = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - closed with the form
        file.close()
        self.file = spool
        self.forward = self._forwarder(self.content_type, SpoolPipe(spool, length))
        return spool
