"""A direct upload's file part sent on to storage while it is still arriving.

Storage needs the length before the bytes, and multipart/form-data gives no part's length,
but when the file is the form's last part its length follows from the request's
Content-Length: what is left after the part's headers, less the closing boundary. The upload
starts on that length, reading the part's spool as it grows, and holds back the last byte
until the part has ended: if the part turns out longer or shorter, the upload is abandoned
before the store has a whole body (it keeps nothing), and the spool is stored as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, BinaryIO

from cloudnexus.limits import MiB

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from cloudnexus.storage.base import Storage

logger = logging.getLogger("cloudnexus.files")

FORWARD_FROM = MiB  # smaller parts stay in memory and are sent whole, at once
WAIT_SECONDS = 60  # a part that stops arriving for this long is given up on
FORWARDS = 8  # at once, a thread each; past that, parts are stored once they have arrived
_free = threading.BoundedSemaphore(FORWARDS)


@functools.cache
def _threads() -> ThreadPoolExecutor:
    """Threads of the forwards' own: each holds one while its client sends, and the worker
    threads that every database call needs must not run out behind a few slow uploads.
    Made on first use: a cold start that serves no large upload does not import them."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=FORWARDS, thread_name_prefix="cloudnexus-forward")


class PartMismatch(Exception):
    """The part did not end where its length was foreseen (or never ended)."""


class SpoolPipe:
    """The file part's spool, read by the upload in another thread while it is written."""

    def __init__(self, spool: BinaryIO, length: int) -> None:
        self.length = length
        self._fd = spool.fileno()
        self._written = 0
        self._ended: int | None = None  # the part's real length, once it has ended
        self._read = 0
        self._changed = threading.Condition()

    def wrote(self, size: int) -> None:
        with self._changed:
            self._written += size
            self._changed.notify()

    def end(self, size: int) -> None:
        """The part ended with `size` bytes: the upload may finish, if that is its length."""
        with self._changed:
            self._ended = size
            self._changed.notify()

    def abandon(self) -> None:
        self.end(-1)

    def read(self, size: int = -1) -> bytes:
        left = self.length - self._read
        if left <= 0:
            return b""
        with self._changed:
            while True:
                if self._ended is not None and self._ended != self.length:
                    raise PartMismatch(f"foreseen {self.length} bytes, the part had "
                                       f"{self._ended}")
                # The last byte waits for the part's end: a store has a whole body only if
                # the part is exactly as long as foreseen.
                ready = self._written if self._ended is not None else min(
                    self._written, self.length - 1)
                if ready > self._read:
                    break
                if not self._changed.wait(WAIT_SECONDS):
                    raise PartMismatch("the part stopped arriving")
        available = ready - self._read  # ready is never past the length
        count = available if size < 0 else min(size, available)
        chunk = os.pread(self._fd, count, self._read)
        self._read += len(chunk)
        return chunk


class Forward:
    """The upload of one part to `key`, started as the part starts to arrive."""

    def __init__(self, storage: Storage, key: str, pipe: SpoolPipe, content_type: str) -> None:
        self.key, self.pipe = key, pipe
        # A SpoolPipe has the reads put() makes of a BinaryIO, not the whole of its type.
        self._put = _threads().submit(storage.put, key, pipe,  # type: ignore[arg-type]
                                      content_type=content_type, size=pipe.length)
        self._put.add_done_callback(_ended)

    @classmethod
    def start(cls, storage: Storage, key: str, pipe: SpoolPipe,
              content_type: str) -> Forward | None:
        """The part's upload, or None while every forward is taken (by slow clients, maybe):
        a part does not wait for one, it is stored once it has arrived."""
        if not _free.acquire(blocking=False):
            return None
        try:
            return cls(storage, key, pipe, content_type)
        except BaseException:  # not started (threads shut down): nothing else will release
            _free.release()
            raise

    def end(self, size: int) -> None:
        """The part ended at `size` bytes: the upload finishes if that is its length."""
        self.pipe.end(size)

    def wait(self) -> bool:
        """Block until the upload has ended (end() first); True when the store then holds
        exactly the part. In a worker thread: the store may take a while to answer."""
        try:
            self._put.result()
        except Exception:  # noqa: BLE001 - logged once; the caller stores the spool instead
            return False
        return True

    async def abandon(self) -> None:
        """Stop the upload before its last byte (the store keeps nothing) and wait for it."""
        self.pipe.abandon()
        with contextlib.suppress(Exception):  # its failure is what was asked for
            await asyncio.wrap_future(self._put)


def _ended(put: Future[Any]) -> None:
    _free.release()
    if not put.cancelled() and put.exception() is not None:
        logger.info("forwarding an upload did not work; its spool is stored instead",
                    extra={"reason": str(put.exception())})
