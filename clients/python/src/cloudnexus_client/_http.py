"""One transport over httpx, sync and async: auth, retries with backoff, typed errors."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from cloudnexus_client.errors import ApiError, error_from

RETRIED_STATUSES = frozenset({429, 503})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 20.0
RETRY_AFTER_CAP_SECONDS = 60.0
DEFAULT_RETRIES = 5
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
USER_AGENT = "cloudnexus-client/0.1"


@dataclass
class Call:
    """One API request as the resources describe it, before any transport sends it."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    files: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    creates: bool = False  # a POST that creates something: sent with an Idempotency-Key
    accepted: frozenset[int] = frozenset()  # error statuses that are answers (GET /health)

    def prepared_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.creates:
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))  # once, for every retry
        return headers

    def query(self) -> dict[str, Any] | None:
        if self.params is None:
            return None
        return {name: value for name, value in self.params.items() if value is not None}


def backoff_delay(attempt: int, response: httpx.Response | None) -> float:
    """Full-jitter exponential backoff, or the server's Retry-After when it gives one."""
    if response is not None:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP_SECONDS) + random.uniform(0, 0.25)  # noqa: S311
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not secrecy


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def raise_for(response: httpx.Response) -> None:
    if response.is_success or response.is_redirect:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    raise error_from(response.status_code, body, response.headers.get("X-Request-Id"))


def should_retry(response: httpx.Response) -> bool:
    return response.status_code in RETRIED_STATUSES


def _client_options(credential: str | None, timeout: httpx.Timeout,
                    max_connections: int) -> dict[str, Any]:
    """What both httpx clients are made with: headers (the credential), timeout, pool."""
    headers = {"User-Agent": USER_AGENT}
    if credential:
        headers["Authorization"] = f"Bearer {credential}"
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    return {"headers": headers, "timeout": timeout, "limits": limits}


RetryHook = Callable[[int, float, "httpx.Response | BaseException"], None]


class SyncTransport:
    """Sends Calls to the API with the credential, retrying what may be retried."""

    def __init__(self, base_url: str, credential: str | None, *, retries: int = DEFAULT_RETRIES,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT, max_connections: int = 16,
                 on_retry: RetryHook | None = None) -> None:
        self.base_url, self.retries, self.on_retry = base_url, retries, on_retry
        options = _client_options(credential, timeout, max_connections)
        self.api = httpx.Client(base_url=base_url, **options)
        # Presigned storage URLs carry their own signature: never send the API credential there.
        self.storage = httpx.Client(**_client_options(None, timeout, max_connections))

    def close(self) -> None:
        self.api.close()
        self.storage.close()

    def send(self, call: Call) -> httpx.Response:
        headers = call.prepared_headers()
        attempt = 0
        while True:
            try:
                response = self.api.request(call.method, call.path, params=call.query(),
                                            json=call.json, data=call.data, files=call.files,
                                            headers=headers)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise
                self._pause(attempt, exc, None)
            else:
                if response.status_code in call.accepted:
                    return response
                if not should_retry(response) or attempt >= self.retries:
                    raise_for(response)
                    return response
                self._pause(attempt, response, response)
            attempt += 1

    def _pause(self, attempt: int, cause: httpx.Response | BaseException,
               response: httpx.Response | None) -> None:
        delay = backoff_delay(attempt, response)
        if self.on_retry:
            self.on_retry(attempt + 1, delay, cause)
        time.sleep(delay)

    def retrying(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        """Run one storage request (which builds its own body on each try) with the retries."""
        attempt = 0
        while True:
            try:
                response = send()
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise
                self._pause(attempt, exc, None)
            else:
                if not (should_retry(response) or response.status_code >= 500) \
                        or attempt >= self.retries:
                    return response
                self._pause(attempt, response, response)
            attempt += 1


class AsyncTransport:
    """The same as SyncTransport, awaitable."""

    def __init__(self, base_url: str, credential: str | None, *, retries: int = DEFAULT_RETRIES,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT, max_connections: int = 16,
                 on_retry: RetryHook | None = None) -> None:
        self.base_url, self.retries, self.on_retry = base_url, retries, on_retry
        options = _client_options(credential, timeout, max_connections)
        self.api = httpx.AsyncClient(base_url=base_url, **options)

    async def close(self) -> None:
        await self.api.aclose()

    async def send(self, call: Call) -> httpx.Response:
        headers = call.prepared_headers()
        attempt = 0
        while True:
            try:
                response = await self.api.request(call.method, call.path, params=call.query(),
                                                  json=call.json, data=call.data,
                                                  files=call.files, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise
                await self._pause(attempt, exc, None)
            else:
                if response.status_code in call.accepted:
                    return response
                if not should_retry(response) or attempt >= self.retries:
                    raise_for(response)
                    return response
                await self._pause(attempt, response, response)
            attempt += 1

    async def _pause(self, attempt: int, cause: httpx.Response | BaseException,
                     response: httpx.Response | None) -> None:
        delay = backoff_delay(attempt, response)
        if self.on_retry:
            self.on_retry(attempt + 1, delay, cause)
        import asyncio  # here: a sync program never needs it

        await asyncio.sleep(delay)


__all__ = ["ApiError", "AsyncTransport", "Call", "SyncTransport"]
