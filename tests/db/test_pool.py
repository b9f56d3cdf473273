"""db.pool.Pool.fetch_awaited: a statement sent from the event loop on a connection ready at once
is awaited there (the loop serves others meanwhile); one cut off midway does not come back to
the pool; without a ready connection it runs in a worker thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from cloudnexus.config import Settings
from cloudnexus.db.pool import Pool
from cloudnexus.runtime import Runtime

SLEEP = "SELECT pg_sleep(%(seconds)s), pg_backend_pid() AS pid"


@pytest.fixture
def runtime(make_settings: Callable[..., Settings], postgres_url: str) -> Iterator[Runtime]:
    made = Runtime(make_settings(database_url=postgres_url))
    yield made
    made.close()


@pytest.fixture
def pool(runtime: Runtime) -> Pool:
    pool = runtime.postgres_pool
    assert pool is not None
    pool.fetch("SELECT 1", {})  # one idle connection, used just now: ready
    return pool


def test_the_loop_serves_others_while_a_ready_connection_awaits_its_answer(
        runtime: Runtime, pool: Pool) -> None:
    ticks: list[float] = []
    threads: list[str] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await anyio.sleep(0.01)

    async def main() -> list[dict[str, object]]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(tick)
            threads.append(threading.current_thread().name)
            rows = await pool.fetch_awaited(runtime, SLEEP, {"seconds": 0.3})
            tasks.cancel_scope.cancel()
        return rows

    started = time.monotonic()
    rows = anyio.run(main)
    assert len(rows) == 1 and time.monotonic() - started >= 0.3
    # Ticks every 10 ms throughout the 300 ms: a blocking wait would have allowed one or two.
    assert len(ticks) >= 10, ticks
    assert threads == [threading.current_thread().name]


def test_a_statement_cut_off_midway_closes_its_connection(runtime: Runtime, pool: Pool) -> None:
    async def cut_off() -> None:
        with anyio.move_on_after(0.1):
            await pool.fetch_awaited(runtime, SLEEP, {"seconds": 5})

    started = time.monotonic()
    anyio.run(cut_off)
    assert time.monotonic() - started < 2
    assert pool.take_ready() is None  # the connection was not given back as idle
    rows = pool.fetch("SELECT 1 AS one", {})  # a new connection answers
    assert rows == [{"one": 1}]


def test_without_a_ready_connection_it_runs_in_a_worker_thread(
        runtime: Runtime, pool: Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    fetch = Pool.fetch

    def blocking(self: Pool, *args: Any, **kwargs: Any) -> list[Any]:
        threads.append(threading.current_thread().name)
        return fetch(self, *args, **kwargs)

    monkeypatch.setattr(Pool, "fetch", blocking)
    monkeypatch.setattr(Pool, "take_ready", lambda self: None)

    async def main() -> list[object]:
        return await pool.fetch_awaited(runtime, "SELECT 2 AS two", {})

    assert anyio.run(main) == [{"two": 2}]
    assert threads and threads[0] != threading.current_thread().name


def test_an_error_is_psycopgs_and_the_connection_stays_usable(
        runtime: Runtime, pool: Pool) -> None:
    import psycopg

    async def main() -> None:
        await pool.fetch_awaited(runtime, "SELECT 1 / 0", {})

    with pytest.raises(psycopg.errors.DivisionByZero):
        anyio.run(main)

    async def again() -> list[object]:
        return await pool.fetch_awaited(runtime, "SELECT 3 AS three", {})

    assert anyio.run(again) == [{"three": 3}]
