"""The async client: the same resources and methods as `Client`, awaitable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from cloudnexus_client import operations as ops
from cloudnexus_client._http import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncTransport,
    RetryHook,
    SyncTransport,
)
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


class _AsyncResource:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def _run(self, operation: Operation[T]) -> T:
        return operation.parse(await self._transport.send(operation.call))


def _async(build: Callable[P, Operation[T]]
           ) -> Callable[Concatenate[_AsyncResource, P], Awaitable[T]]:
    """A coroutine method that sends the operation `build` describes."""
    async def method(self: _AsyncResource, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(build(*args, **kwargs))

    method.__doc__ = build.__doc__
    method.__name__ = build.__name__
    return method


class AsyncKeys(_AsyncResource):
    create = _async(ops.create_key)
    list = _async(ops.list_keys)
    revoke = _async(ops.revoke_key)
    delete = _async(ops.revoke_key)


class AsyncBuckets(_AsyncResource):
    create = _async(ops.create_bucket)
    list = _async(ops.list_buckets)
    get = _async(ops.get_bucket)
    update = _async(ops.update_bucket)
    delete = _async(ops.delete_bucket)


class AsyncUploads(_AsyncResource):
    create = _async(ops.create_upload)
    get = _async(ops.get_upload)
    complete = _async(ops.complete_upload)
    abort = _async(ops.abort_upload)


class AsyncSigningKeys(_AsyncResource):
    create = _async(ops.create_signing_key)
    list = _async(ops.list_signing_keys)
    delete = _async(ops.delete_signing_key)


class AsyncTokens(_AsyncResource):
    create = _async(ops.create_token)


class AsyncLinks(_AsyncResource):
    create = _async(ops.create_link)
    list = _async(ops.list_links)
    revoke = _async(ops.revoke_link)
    delete = _async(ops.revoke_link)


class AsyncFiles(_AsyncResource):
    get = _async(ops.get_file)
    update = _async(ops.update_file)
    copy = _async(ops.copy_file)
    delete = _async(ops.delete_file)
    delete_many = _async(ops.delete_files)
    content_url = _async(ops.content_url)
    list_page = _async(ops.list_files_page)
    upload_direct = _async(ops.upload_direct)

    def __init__(self, transport: AsyncTransport, transfers: Callable[[], Transfers]) -> None:
        super().__init__(transport)
        self._transfers = transfers

    async def list(self, bucket: str, *, prefix: str | None = None, q: str | None = None,
                   tag: str | None = None, content_type: str | None = None,
                   created_by: str | None = None, sort: str = "path", order: str = "asc",
                   page_size: int = 1000) -> AsyncIterator[File]:
        """Every matching file, following `next_cursor` page after page."""
        cursor: str | None = None
        while True:
            page = await self._run(ops.list_files_page(
                bucket, prefix=prefix, q=q, tag=tag, content_type=content_type,
                created_by=created_by, sort=sort, order=order, limit=page_size, cursor=cursor))
            for file in page.items:
                yield file
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def find(self, bucket: str, path: str) -> File | None:
        """The file at exactly `path`, or None."""
        async for file in self.list(bucket, prefix=path):
            if file.path == path:
                return file
            if not file.path.startswith(path):
                break
        return None

    async def upload(self, bucket: str, path: str, source: UploadSource, **options: Any) -> File:
        return (await self.upload_with_outcome(bucket, path, source, **options)).file

    async def upload_with_outcome(self, bucket: str, path: str, source: UploadSource,
                                  **options: Any) -> UploadOutcome:
        """As Client.files.upload_with_outcome; the bytes move on a worker thread (file reads
        and the part pool block), the event loop stays free."""
        transfers = self._transfers()
        return await asyncio.to_thread(transfers.upload, bucket, path, source, **options)

    async def download(self, file_id: str, target: DownloadTarget, *,
                       progress: Progress | None = None, resume: bool = True) -> File:
        return (await self.download_with_outcome(file_id, target, progress=progress,
                                                 resume=resume)).file

    async def download_with_outcome(self, file_id: str, target: DownloadTarget, *,
                                    progress: Progress | None = None,
                                    resume: bool = True) -> DownloadOutcome:
        transfers = self._transfers()
        return await asyncio.to_thread(transfers.download, file_id, target, progress=progress,
                                       resume=resume)


class AsyncClient:
    """The CloudNexus API, async (`async with AsyncClient(...) as cx:`)."""

    def __init__(self, url: str | None = None, *, key: str | None = None,
                 token: str | None = None, profile: str | None = None,
                 retries: int = DEFAULT_RETRIES, timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 concurrency: int = DEFAULT_CONCURRENCY,
                 direct_upload_max_bytes: int = DEFAULT_DIRECT_LIMIT,
                 on_retry: RetryHook | None = None) -> None:
        settings = resolve(url, key, token, profile)
        self.url = settings.url
        self._settings = settings
        self._options: dict[str, Any] = {"retries": retries, "timeout": timeout,
                                         "on_retry": on_retry}
        self._concurrency = concurrency
        self._direct_limit = direct_upload_max_bytes
        self._transport = AsyncTransport(settings.url, settings.credential, **self._options)
        self._sync_transfers: Transfers | None = None
        self.keys = AsyncKeys(self._transport)
        self.buckets = AsyncBuckets(self._transport)
        self.files = AsyncFiles(self._transport, self._transfers)
        self.uploads = AsyncUploads(self._transport)
        self.links = AsyncLinks(self._transport)
        self.signing_keys = AsyncSigningKeys(self._transport)
        self.tokens = AsyncTokens(self._transport)

    def _transfers(self) -> Transfers:
        if self._sync_transfers is None:
            transport = SyncTransport(self._settings.url, self._settings.credential,
                                      max_connections=max(16, self._concurrency * 2),
                                      **self._options)
            self._sync_transfers = Transfers(transport, concurrency=self._concurrency,
                                             direct_limit=self._direct_limit)
        return self._sync_transfers

    async def workspace(self) -> Workspace:
        return ops.get_workspace().parse(await self._transport.send(ops.get_workspace().call))

    async def health(self) -> Health:
        operation = ops.health()
        return operation.parse(await self._transport.send(operation.call))

    async def close(self) -> None:
        await self._transport.close()
        if self._sync_transfers is not None:
            self._sync_transfers.transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()
