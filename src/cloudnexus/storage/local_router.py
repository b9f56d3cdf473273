"""/storage: the routes behind the local backend's presigned and public URLs."""

from email.utils import formatdate
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import Field, ValidationError

from cloudnexus.errors import BadRequest, Forbidden, NotFound, PreconditionFailed
from cloudnexus.limits import AT_ONCE_MAX_BYTES
from cloudnexus.runtime import runtime_of
from cloudnexus.schemas import ErrorBody, Model
from cloudnexus.storage.base import NotAwaited, ObjectExists, ObjectNotFound
from cloudnexus.storage.local import LocalStorage
from cloudnexus.storage.signing import (
    PUBLIC_PATH,
    STORAGE_PATH,
    Grant,
    SignatureError,
    grant_from_query,
)
from cloudnexus.storage.staging import CHUNK, BodyTooLarge, StagedFile

router = APIRouter(tags=["storage"])

_ERRORS = {
    400: "The body does not match the signed length or checksum",
    403: "Unsigned, tampered with, expired, or a header differs from the signed one",
    404: "No such object, or the upload was aborted, failed or expired",
    412: "Another object is already stored at the key (a presigned PUT never replaces one)",
    422: "A parameter is malformed",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": _ERRORS[status]} for status in statuses}


_BYTES = {"description": "The object's bytes", "content": {"application/octet-stream": {}}}
_RAW_BODY = {"requestBody": {"required": True, "description": "The object's or part's bytes",
                             "content": {"*/*": {"schema": {"type": "string",
                                                            "format": "binary"}}}}}
_STORED = {
    "description": "Stored; the body is empty",
    "headers": {"ETag": {"description": "The object's or part's etag (needed to complete a "
                                        "multipart upload)", "schema": {"type": "string"}}},
}


class SignedQuery(Model):
    """The query parameters of a presigned URL."""

    expires: int | None = Field(None, description="Unix time after which the URL is refused")
    signature: str | None = Field(None, description="HMAC-SHA256 of the request's grant, hex")


class SignedGetQuery(SignedQuery):
    disposition: str | None = Field(None, description="The Content-Disposition to answer with")


class SignedPutQuery(SignedQuery):
    content_type: str | None = Field(None, description="The Content-Type the body must have")
    content_length: int | None = Field(None, description="The exact length of the body")
    sha256: str | None = Field(None, description="The SHA-256 (hex) the body must have")
    upload_id: str | None = Field(None, description="The multipart upload this part belongs to")
    part_number: int | None = Field(None, description="The part's number, 1..10000")


Signed = TypeVar("Signed", bound=SignedQuery)

# These routes take the request alone and read their parameters themselves: FastAPI's
# solving of a path parameter, a query model and a dependency cost more than serving a small
# object (docs/performance.md). The OpenAPI document describes the parameters all the same.
_KEY = {"name": "key", "in": "path", "required": True,
        "schema": {"title": "Key", "type": "string"}}


def _parameters(query: type[SignedQuery] | None = None) -> dict[str, Any]:
    """The route's parameters for the OpenAPI document: the key, and `query`'s fields."""
    if query is None:
        return {"parameters": [_KEY]}
    schema = query.model_json_schema()
    fields = [{"name": name, "in": "query", "required": name in schema.get("required", ()),
               "description": field["description"],
               "schema": {key: value for key, value in field.items() if key != "default"}}
              for name, field in schema["properties"].items()]
    return {"parameters": [_KEY, *fields]}


def _object(request: Request) -> tuple[LocalStorage, str]:
    """The storage, and the key of the object the path names."""
    storage = runtime_of(request).storage
    if not isinstance(storage, LocalStorage):
        raise NotFound()
    return storage, request.path_params["key"]


def _signed(request: Request, query: type[Signed]) -> Signed:
    """The URL's signed query; 422 when it is malformed, as FastAPI would answer."""
    try:
        return query.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("query", *error["loc"])}
                                      for error in exc.errors()]) from None


def verified(storage: LocalStorage, method: str, key: str, query: SignedQuery) -> Grant:
    """The grant the URL carries, or 403 when it is unsigned, tampered with or expired."""
    try:
        grant = grant_from_query(method, key, query.model_dump(exclude={"signature"}))
        storage.signer.verify(grant, query.signature)
    except SignatureError as exc:
        raise Forbidden(str(exc)) from None
    return grant


class ObjectResponse(FileResponse):
    """An object's file, read a MiB at a time: Starlette's 64 KiB took a trip to a worker
    thread for every 64 KiB (17 for a MiB, where this takes 2), and the file's stat, taken
    with the object's, is not taken again in one more (docs/performance.md)."""

    chunk_size = CHUNK


def _download(storage: LocalStorage, key: str, disposition: str | None,
              request: Request) -> Response:
    """The object's bytes. Its stat and a small object's bytes are read here, on the event
    loop: from a local disk that is quicker than the trip to a worker thread and back, which
    FileResponse takes to open, to read and to close (docs/performance.md). A larger object,
    or a part of one (Range), goes through FileResponse."""
    try:
        info, stat = storage.stat(key)
    except (ObjectNotFound, ValueError):
        raise NotFound("Object not found") from None
    headers = {"ETag": info.etag} if info.etag else {}
    if disposition:
        headers["Content-Disposition"] = disposition
    media_type = info.content_type or "application/octet-stream"
    if stat.st_size <= AT_ONCE_MAX_BYTES and "range" not in request.headers:
        try:
            body = storage.path_of(key).read_bytes()
        except OSError:  # deleted since its stat
            raise NotFound("Object not found") from None
        headers.update({"Accept-Ranges": "bytes",
                        "Last-Modified": formatdate(stat.st_mtime, usegmt=True)})
        return Response(body, headers=headers, media_type=media_type)
    return ObjectResponse(storage.path_of(key), headers=headers, stat_result=stat,
                          media_type=media_type)


@router.get(f"{PUBLIC_PATH}/{{key:path}}", response_class=FileResponse,
            responses={200: _BYTES, **_errors(404, 422)}, openapi_extra=_parameters())
async def get_public_object(request: Request) -> Response:
    """Download a ready object under the public `uploads/` prefix; no signature needed (the
    bytes of a presigned upload are served only once complete has checked them)."""
    storage, key = _object(request)
    try:
        if not key.startswith("uploads/") or storage.is_pending(key):
            raise NotFound("Object not found")
    except ValueError:  # an unsafe key
        raise NotFound("Object not found") from None
    return _download(storage, key, None, request)


@router.get(f"{STORAGE_PATH}/{{key:path}}", response_class=FileResponse,
            responses={200: _BYTES, **_errors(403, 404, 422)},
            openapi_extra=_parameters(SignedGetQuery))
async def get_object(request: Request) -> Response:
    """Download an object through a presigned GET URL."""
    storage, key = _object(request)
    grant = verified(storage, "GET", key, _signed(request, SignedGetQuery))
    return _download(storage, key, grant.disposition, request)


@router.put(f"{STORAGE_PATH}/{{key:path}}", response_class=Response,
            responses={200: _STORED, **_errors(400, 403, 404, 412, 422)},
            openapi_extra={**_RAW_BODY, **_parameters(SignedPutQuery)})
async def put_object(request: Request) -> Response:
    """Store the body sent to a presigned PUT URL: a whole object, or one multipart part."""
    storage, key = _object(request)
    grant = verified(storage, "PUT", key, _signed(request, SignedPutQuery))
    if grant.content_length is None:
        raise Forbidden("The URL does not grant an upload")
    if request.headers.get("content-length") != str(grant.content_length):
        raise Forbidden(f"Content-Length must be {grant.content_length}, as signed")
    if grant.upload_id is not None and grant.part_number is not None:
        try:
            staged = storage.staged_part(key, grant.upload_id, grant.part_number,
                                         size=grant.content_length)
        except ObjectNotFound:
            raise _upload_over() from None
    elif grant.content_type is not None:
        sent = request.headers.get("content-type", "").strip()
        if sent != grant.content_type:
            got = f"got {sent!r}" if sent else "none was sent"
            raise Forbidden(f"Content-Type must be {grant.content_type!r}, as signed ({got}): "
                            "send the upload's headers exactly")
        _check_awaited(storage, key)
        staged = storage.staged(key, limit=grant.content_length)
    else:
        raise Forbidden("The URL does not grant an upload")
    with staged:
        await _receive(request, staged, grant)
        if grant.upload_id is not None:
            etag = storage.save_part(staged).etag
        else:
            etag = _save_object(storage, key, staged, grant)
    arrived = getattr(request.app.state, "object_arrived", None)
    if grant.upload_id is None and arrived is not None:
        await run_in_threadpool(arrived, request.app.state.runtime, key)
    return Response(status_code=200, headers={"ETag": etag})


def _save_object(storage: LocalStorage, key: str, staged: StagedFile, grant: Grant) -> str:
    """Checked again once the body is in: the upload may have ended while it arrived."""
    try:
        info = storage.save_awaited(key, staged, content_type=str(grant.content_type))
    except (ObjectExists, NotAwaited) as exc:
        raise _refused(exc) from None
    return info.etag or ""


def _check_awaited(storage: LocalStorage, key: str) -> None:
    """As S3 does for a URL signed with If-None-Match: *, a PUT creates and never replaces,
    so a URL still unexpired cannot change a completed file's bytes; unlike S3, a URL whose
    upload was aborted, failed or expired is refused too, before its body is read."""
    try:
        storage.check_awaited(key)
    except (ObjectExists, NotAwaited) as exc:
        raise _refused(exc) from None


def _refused(exc: ObjectExists | NotAwaited) -> PreconditionFailed | NotFound:
    if isinstance(exc, ObjectExists):
        return PreconditionFailed("An object is already stored under this URL's key; a "
                                  "presigned PUT does not replace it")
    return _upload_over()


def _upload_over() -> NotFound:
    return NotFound("The upload of this URL was aborted, failed or expired; start a new one")


async def _receive(request: Request, staged: StagedFile, grant: Grant) -> None:
    """Stream the body to disk, refusing it as soon as it is longer than allowed."""
    try:
        async for chunk in request.stream():
            staged.write(chunk)
    except BodyTooLarge as exc:
        raise BadRequest(f"The body is too long: {exc}") from None
    if grant.content_length is not None and staged.size != grant.content_length:
        raise BadRequest("The body is shorter than the signed Content-Length")
    if grant.sha256 is not None and staged.sha256 != grant.sha256:
        raise BadRequest("The body's SHA-256 differs from the signed checksum")
