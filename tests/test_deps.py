"""The session dependency: requests wait for a database slot on the event loop, never in a
worker thread, so a burst bigger than the thread pool cannot starve the requests that hold
the connections."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient

from cloudnexus.config import Settings
from tests.conftest import Tenant, running_app


async def _burst(application: Any, headers: dict[str, str], url: str, count: int) -> list[int]:
    # Fewer worker threads than requests: before the slots, the threads all blocked on the
    # pool while the requests holding its connections waited for a thread (a deadlock until
    # the pool's timeout answered 503).
    anyio.to_thread.current_default_thread_limiter().total_tokens = 3
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        responses = await asyncio.wait_for(
            asyncio.gather(*(client.get(url, headers=headers) for _ in range(count))), 8)
    return [response.status_code for response in responses]


def test_a_burst_larger_than_the_thread_pool_is_served(
        make_settings: Callable[..., Settings], postgres_url: str) -> None:
    settings = make_settings(database_url=postgres_url, db_pool_size=2, log_level="WARNING")
    for application in running_app(settings):
        tenant = Tenant(application.state.runtime, "burst")
        statuses = asyncio.run(_burst(application, tenant.headers(), "/v1/buckets", 30))
        assert statuses == [200] * 30


async def _ask_while_the_only_slot_is_held(application: Any,
                                           headers: dict[str, str]) -> httpx.Response:
    await application.state.runtime.database_slots().acquire()
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/v1/buckets", headers=headers)


def test_a_request_waiting_too_long_for_a_slot_gets_503(
        make_settings: Callable[..., Settings], postgres_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudnexus.db import sessions

    monkeypatch.setattr(sessions, "SLOT_WAIT_SECONDS", 0.2)
    settings = make_settings(database_url=postgres_url, db_pool_size=1, log_level="WARNING")
    for application in running_app(settings):
        tenant = Tenant(application.state.runtime, "busy")
        response = asyncio.run(_ask_while_the_only_slot_is_held(application, tenant.headers()))
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
        assert "Retry-After" in response.headers


async def _slow_upload_beside_a_read(application: Any, headers: dict[str, str],
                                     idempotent: bool) -> tuple[int, int, float]:
    """A direct upload whose body trickles in over 1.5 s, and meanwhile a read."""
    boundary = "cnx-slow"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"slow.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def trickle() -> Any:
        yield head
        for _ in range(15):
            await asyncio.sleep(0.1)
            yield b"x" * 1024
        yield tail

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        upload_headers = {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}",
                          "Content-Length": str(len(head) + 15 * 1024 + len(tail)),
                          **({"Idempotency-Key": "slow-1"} if idempotent else {})}
        upload = asyncio.create_task(client.post("/v1/buckets/slow/files", headers=upload_headers,
                                                 content=trickle()))
        await asyncio.sleep(0.3)  # the upload holds its key check's slot by now
        started = time.monotonic()
        read = await client.get("/v1/buckets", headers=headers)
        waited = time.monotonic() - started
        return (await upload).status_code, read.status_code, waited


@pytest.mark.parametrize("idempotent", [False, True])
def test_a_slow_uploader_does_not_hold_the_database(
        make_settings: Callable[..., Settings], postgres_url: str, idempotent: bool) -> None:
    """With one pooled connection, a read is served while a direct upload's body is still
    arriving: the upload gives its connection and slot back while it waits on its client."""
    settings = make_settings(database_url=postgres_url, db_pool_size=1, log_level="WARNING")
    for application in running_app(settings):
        tenant = Tenant(application.state.runtime, f"slow-{uuid.uuid4().hex[:8]}")
        with TestClient(application) as client:
            assert client.post("/v1/buckets", json={"name": "slow"},
                               headers=tenant.headers()).status_code == 201
        uploaded, read, waited = asyncio.run(
            _slow_upload_beside_a_read(application, tenant.headers(), idempotent))
        assert (uploaded, read) == (201, 200)
        assert waited < 0.8, f"the read waited {waited:.2f} s for the upload's body"
