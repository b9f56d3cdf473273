"""GET /health: a real query to the database and a cheap real call to the storage."""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cloudnexus import __version__
from cloudnexus.db.reads import Query, read_one
from cloudnexus.deps import RuntimeDep
from cloudnexus.runtime import Runtime, run_blocking
from cloudnexus.schemas import Model

router = APIRouter(tags=["health"])
logger = logging.getLogger("cloudnexus.health")


class Check(Model):
    status: Literal["ok", "unavailable"]
    latency_ms: float
    error: str | None = None
    # A good answer reused (HEALTH_STORAGE_TTL): how many seconds ago it was taken.
    age_s: float | None = None


class Health(Model):
    status: Literal["ok", "unavailable"]
    version: str
    checks: dict[str, Check]


def timed_check(probe: Callable[[], None]) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is a failed check
        return _failed(exc, started)
    return Check(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def timed_await(probe: Callable[[], Awaitable[object]]) -> Check:
    """timed_check for a probe awaited on the event loop."""
    started = time.perf_counter()
    try:
        await probe()
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is a failed check
        return _failed(exc, started)
    return Check(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _failed(exc: Exception, started: float) -> Check:
    latency = round((time.perf_counter() - started) * 1000, 2)
    logger.warning("health check failed: %s", exc.__class__.__name__)
    return Check(status="unavailable", latency_ms=latency, error=_describe(exc))


def _describe(exc: Exception) -> str:
    """One line, no credentials: the exception class and its first line."""
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    if isinstance(exc, SchemaNotReady):
        return first_line
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


class SchemaNotReady(Exception):
    """The database answers but its schema is not this code's (the message says what to run)."""


def check_database(runtime: Runtime) -> None:
    from sqlalchemy import text

    with runtime.engine.connect() as connection:
        connection.execute(text("SELECT 1")).scalar_one()


def check_schema(runtime: Runtime) -> None:
    """Once the schema has been found ready, a process does not ask again."""
    if runtime.schema_ready:
        return
    from cloudnexus.migrations import schema_problem

    with runtime.engine.connect() as connection:
        problem = schema_problem(connection)
    if problem is not None:
        raise SchemaNotReady(problem)
    runtime.schema_ready = True


ALIVE = Query("SELECT 1 AS alive", tables=())


def run_checks(runtime: Runtime) -> Health:
    """The checks one after the other, for `cloudnexus doctor`."""
    checks = {
        "database": timed_check(lambda: check_database(runtime)),
        "storage": timed_check(lambda: runtime.storage.check()),
    }
    if checks["database"].status == "ok":
        checks["schema"] = timed_check(lambda: check_schema(runtime))
    return _health(checks)


async def run_checks_awaited(request: Request, runtime: Runtime) -> Health:
    """The route's checks: the database's is one statement through the read API (on
    PostgreSQL, no transaction to begin and roll back around it: one round trip, not three).
    One after the other, not at the same time: on Lambda blocking work runs on the event loop
    anyway (runtime.run_blocking), and elsewhere the second trip reuses the first's thread."""
    checks = {"database": await timed_await(lambda: read_one(request, ALIVE)),
              "storage": await _storage_check(runtime)}
    if checks["database"].status == "ok":
        checks["schema"] = timed_check(lambda: None) if runtime.schema_ready else \
            await run_blocking(runtime, timed_check, lambda: check_schema(runtime))
    return _health(checks)


async def _storage_check(runtime: Runtime) -> Check:
    """The storage's last good answer while it is younger than HEALTH_STORAGE_TTL, else a
    real call. Load balancers and monitors ask every few seconds, and each call to S3 is a
    request billed and a few milliseconds; a failure is never reused, so an outage shows
    within the TTL, and the database is asked every time."""
    now, seen = time.monotonic(), runtime.storage_seen_ok
    if seen is not None and now - seen[0] < runtime.settings.health_storage_ttl:
        return Check(status="ok", latency_ms=seen[1], age_s=round(now - seen[0], 1))
    check = await run_blocking(runtime, timed_check, lambda: runtime.storage.check())
    runtime.storage_seen_ok = (now, check.latency_ms) if check.status == "ok" else None
    return check


def _health(checks: dict[str, Check]) -> Health:
    healthy = all(check.status == "ok" for check in checks.values())
    return Health(status="ok" if healthy else "unavailable", version=__version__, checks=checks)


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is unavailable"}},
)
async def health(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Report whether the database and the storage answer, with their latency."""
    report = await run_checks_awaited(request, runtime)
    status = 200 if report.status == "ok" else 503
    headers = {} if status == 200 else {"Retry-After": "5"}
    return JSONResponse(report.model_dump(exclude_none=True), status_code=status, headers=headers)
