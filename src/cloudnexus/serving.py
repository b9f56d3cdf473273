"""How `cloudnexus serve` reads requests: uvicorn's httptools protocol, bounded.

uvicorn reads a request's head whole, however long (a 16 MiB header was read and answered
401), and waits forever for a head or a body that stops arriving. This protocol refuses a
head over `head_max_bytes` with 431 while it is still arriving, closes a connection whose
head takes longer than `head_timeout`, and one whose body stops arriving for `body_timeout`
(the app sees the hang-up, logged at INFO as 499). Nothing here runs on Lambda, where API
Gateway reads the requests.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from cloudnexus.errors import HeadersTooLarge, error_body
from cloudnexus.logs import request_id_var

logger = logging.getLogger("cloudnexus.access")

HEAD_MAX_BYTES = 16 * 1024  # request line and headers; API Gateway allows 10 KiB per header
HEAD_TIMEOUT_SECONDS = 10.0  # from the connection (or the last answer) to the head's end
BODY_TIMEOUT_SECONDS = 30.0  # the longest pause between two pieces of a body
# After a refusal the rest of what the client sends is read and dropped for this long, so
# that it can read the answer (closing on unread data would reset the connection).
LINGER_SECONDS = 2.0


@dataclass(frozen=True)
class ClientLimits:
    head_max_bytes: int = HEAD_MAX_BYTES
    head_timeout: float = HEAD_TIMEOUT_SECONDS
    body_timeout: float = BODY_TIMEOUT_SECONDS


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, limits: ClientLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or ClientLimits()
        self._awaiting_head = True
        self._head_bytes = 0  # received since the head began, while it is incomplete
        self._refused = False
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._last_body_at = 0.0

    # The head: counted as it arrives, before httptools has a whole header to hand over.

    # uvicorn's own override narrows BaseTransport to Transport the same way.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.head_timeout, self._head_timed_out)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: dropped unread
        if self._awaiting_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._awaiting_head and self._head_bytes > self.limits.head_max_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        if not self._refused:
            super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        # A head that came whole in one read was not counted as it arrived: measure it.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.head_max_bytes:
            self._refuse_head()
            return
        self._awaiting_head, self._head_bytes = False, 0
        self._last_body_at = self.loop.time()
        self._arm(self.limits.body_timeout, self._body_timed_out)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            self._last_body_at = self.loop.time()
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._awaiting_head = True  # the next request's head, once this one is answered
        if self.cycle.response_complete:  # answered before its body ended (a 413)
            self._arm(self.limits.head_timeout, self._head_timed_out)
        else:
            self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._awaiting_head and not self.transport.is_closing():
            self._arm(self.limits.head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # Timers: one per connection, for whichever deadline applies now.

    def _arm(self, delay: float, handler: Any) -> None:
        self._disarm()
        self._deadline_timer = self.loop.call_later(delay, handler)

    def _disarm(self) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None

    def _head_timed_out(self) -> None:
        self._deadline_timer = None
        answering = self.cycle is not None and not self.cycle.response_complete
        if self._awaiting_head and not answering and not self.transport.is_closing():
            if self._head_bytes:
                logger.info("a client did not finish its request head in time; closed",
                            extra={"timeout_seconds": self.limits.head_timeout})
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._deadline_timer = None
        if self._awaiting_head or self.transport.is_closing():
            return
        idle = self.loop.time() - self._last_body_at
        if self.flow.read_paused or idle < self.limits.body_timeout:
            # Paused, the app has not read what came (it is not the client's delay).
            self._arm(max(self.limits.body_timeout - idle, 0.1), self._body_timed_out)
            return
        logger.info("a client stopped sending its body; closed",
                    extra={"timeout_seconds": self.limits.body_timeout})
        self.transport.close()  # the app's receive gets http.disconnect

    # The refusal: an answer in the contract's shape, then the connection ends.

    def _refuse_head(self) -> None:
        self._refused = True
        self._disarm()
        request_id = uuid.uuid4().hex
        error = HeadersTooLarge(f"The request line and headers take at most "
                                f"{self.limits.head_max_bytes} bytes")
        token = request_id_var.set(request_id)
        try:
            body = json.dumps(error_body(error.status, error.code, error.message)).encode()
            logger.info("request head too large; refused", extra={
                "status": error.status, "received_bytes": self._head_bytes})
        finally:
            request_id_var.reset(token)
        head = [STATUS_LINE[error.status], b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body), b"connection: close\r\n",
                b"x-request-id: " + request_id.encode() + b"\r\n",
                b"x-content-type-options: nosniff\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def protocol_with(limits: ClientLimits) -> functools.partial[BoundedHttpToolsProtocol]:
    """The protocol for uvicorn's `http=`, with these limits (a partial of a module-level
    class: uvicorn's reloader pickles it into its worker process)."""
    return functools.partial(BoundedHttpToolsProtocol, limits=limits)
