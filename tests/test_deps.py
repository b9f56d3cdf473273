"""The session dependency: requests wait for a database slot on the event loop, never in a
worker thread, so a burst bigger than the thread pool cannot starve the requests that hold
the connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
import pytest

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
    from cloudnexus import deps

    monkeypatch.setattr(deps, "SLOT_WAIT_SECONDS", 0.2)
    settings = make_settings(database_url=postgres_url, db_pool_size=1, log_level="WARNING")
    for application in running_app(settings):
        tenant = Tenant(application.state.runtime, "busy")
        response = asyncio.run(_ask_while_the_only_slot_is_held(application, tenant.headers()))
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
        assert "Retry-After" in response.headers
