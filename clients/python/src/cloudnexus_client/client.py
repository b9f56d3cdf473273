"""The sync client: `Client(url, key=...)` with one resource per domain of the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from cloudnexus_client import operations as ops
from cloudnexus_client._http import DEFAULT_RETRIES, DEFAULT_TIMEOUT, RetryHook, SyncTransport
from cloudnexus_client.config import resolve
from cloudnexus_client.models import File, Health, Workspace
from cloudnexus_client.operations import Operation
from cloudnexus_client.transfer import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DIRECT_LIMIT,
    DownloadOutcome,
    DownloadTarget,
    Progress,
    Transfers,
    UploadOutcome,
    UploadSource,
)

P = ParamSpec("P")
T = TypeVar("T")


class _Resource:
    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport

    def _run(self, operation: Operation[T]) -> T:
        return operation.parse(self._transport.send(operation.call))


def _sync(build: Callable[P, Operation[T]]) -> Callable[Concatenate[_Resource, P], T]:
    """A method that sends the operation `build` describes and returns its parsed answer."""
    def method(self: _Resource, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(build(*args, **kwargs))

    method.__doc__ = build.__doc__
    method.__name__ = build.__name__
    return method


class Keys(_Resource):
    create = _sync(ops.create_key)
    list = _sync(ops.list_keys)
    revoke = _sync(ops.revoke_key)
    delete = _sync(ops.revoke_key)


class Buckets(_Resource):
    create = _sync(ops.create_bucket)
    list = _sync(ops.list_buckets)
    get = _sync(ops.get_bucket)
    update = _sync(ops.update_bucket)
    delete = _sync(ops.delete_bucket)


class Uploads(_Resource):
    create = _sync(ops.create_upload)
    get = _sync(ops.get_upload)
    complete = _sync(ops.complete_upload)
    abort = _sync(ops.abort_upload)


class SigningKeys(_Resource):
    create = _sync(ops.create_signing_key)
    list = _sync(ops.list_signing_keys)
    delete = _sync(ops.delete_signing_key)


class Tokens(_Resource):
    create = _sync(ops.create_token)


class Links(_Resource):
    create = _sync(ops.create_link)
    list = _sync(ops.list_links)
    revoke = _sync(ops.revoke_link)
    delete = _sync(ops.revoke_link)


class Files(_Resource):
    get = _sync(ops.get_file)
    update = _sync(ops.update_file)
    copy = _sync(ops.copy_file)
    delete = _sync(ops.delete_file)
    delete_many = _sync(ops.delete_files)
    content_url = _sync(ops.content_url)
    list_page = _sync(ops.list_files_page)
    upload_direct = _sync(ops.upload_direct)

    def __init__(self, transport: SyncTransport, transfers: Transfers) -> None:
        super().__init__(transport)
        self._transfers = transfers

    def list(self, bucket: str, *, prefix: str | None = None, q: str | None = None,
             tag: str | None = None, content_type: str | None = None,
             created_by: str | None = None, sort: str = "path", order: str = "asc",
             page_size: int = 1000) -> Iterator[File]:
        """Every matching file, following `next_cursor` page after page."""
        cursor: str | None = None
        while True:
            page = self._run(ops.list_files_page(
                bucket, prefix=prefix, q=q, tag=tag, content_type=content_type,
                created_by=created_by, sort=sort, order=order, limit=page_size, cursor=cursor))
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def find(self, bucket: str, path: str) -> File | None:
        """The file at exactly `path`, or None."""
        for file in self.list(bucket, prefix=path):
            if file.path == path:
                return file
            if not file.path.startswith(path):
                break
        return None

    def upload(self, bucket: str, path: str, source: UploadSource, **options: Any) -> File:
        """Upload a path, bytes or a binary file object; see `upload_with_outcome`."""
        return self.upload_with_outcome(bucket, path, source, **options).file

    def upload_with_outcome(self, bucket: str, path: str, source: UploadSource, *,
                            content_type: str | None = None,
                            metadata: dict[str, Any] | None = None,
                            tags: Sequence[str] | None = None, overwrite: bool = False,
                            progress: Progress | None = None, resume: bool = True,
                            multipart: bool = False,
                            concurrency: int | None = None) -> UploadOutcome:
        """Upload directly, by presigned PUT or in parallel parts, by size; resumable."""
        return self._transfers.upload(
            bucket, path, source, content_type=content_type, metadata=metadata, tags=tags,
            overwrite=overwrite, progress=progress, resume=resume, multipart=multipart,
            concurrency=concurrency)

    def download(self, file_id: str, target: DownloadTarget, *,
                 progress: Progress | None = None, resume: bool = True) -> File:
        """Stream the file's bytes to a path (resumed with Range) or a binary file object."""
        return self.download_with_outcome(file_id, target, progress=progress,
                                          resume=resume).file

    def download_with_outcome(self, file_id: str, target: DownloadTarget, *,
                              progress: Progress | None = None,
                              resume: bool = True) -> DownloadOutcome:
        return self._transfers.download(file_id, target, progress=progress, resume=resume)


class Client:
    """The CloudNexus API, sync. Settings: arguments, else the environment, else the profile."""

    def __init__(self, url: str | None = None, *, key: str | None = None,
                 token: str | None = None, profile: str | None = None,
                 retries: int = DEFAULT_RETRIES, timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 concurrency: int = DEFAULT_CONCURRENCY,
                 direct_upload_max_bytes: int = DEFAULT_DIRECT_LIMIT,
                 on_retry: RetryHook | None = None) -> None:
        settings = resolve(url, key, token, profile)
        self.url = settings.url
        self._transport = SyncTransport(settings.url, settings.credential, retries=retries,
                                        timeout=timeout, max_connections=max(16, concurrency * 2),
                                        on_retry=on_retry)
        self.transfers = Transfers(self._transport, concurrency=concurrency,
                                   direct_limit=direct_upload_max_bytes)
        self.keys = Keys(self._transport)
        self.buckets = Buckets(self._transport)
        self.files = Files(self._transport, self.transfers)
        self.uploads = Uploads(self._transport)
        self.links = Links(self._transport)
        self.signing_keys = SigningKeys(self._transport)
        self.tokens = Tokens(self._transport)

    def workspace(self) -> Workspace:
        """The workspace of the credential: usage against quota."""
        return self.transfers.run(ops.get_workspace())

    def health(self) -> Health:
        return self.transfers.run(ops.health())

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
