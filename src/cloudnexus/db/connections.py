"""How connections to PostgreSQL are kept (db.pool), and the slots requests wait for."""

import asyncio
import json
from typing import Any

from cloudnexus.errors import ServiceUnavailable

# RDS Proxy closes idle client connections after 30 minutes by default; recycle well before.
POOL_RECYCLE_SECONDS = 280
# A connection idle this long is pinged before use: a Lambda that slept, or a database that
# restarted while the pool was quiet, would otherwise fail the request that takes it.
PING_AFTER_IDLE_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 5
# How the app's connections show in pg_stat_activity (and RDS Proxy's logs).
APPLICATION_NAME = "cloudnexus"


async def take_slot(slots: asyncio.Semaphore, seconds: float) -> None:
    """One of `slots` (a pool's connections), waited for on the event loop; 503 when the
    database stays that busy for `seconds`."""
    if not slots.locked():  # one is free: taken at once, with no timeout to arm
        await slots.acquire()
        return
    try:
        await asyncio.wait_for(slots.acquire(), seconds)
    except TimeoutError:
        raise ServiceUnavailable("The database is busy; retry shortly") from None


def load_json(text: str | bytes) -> Any:
    """json.loads, less its work for the empty object and list (most files' metadata and
    tags, two per row of a listing page: 13% of a page of 100 here) and for null (the image
    of every file that is not one: SQLAlchemy's JSON stores None as JSON's null)."""
    if text in ("{}", b"{}"):
        return {}
    if text in ("[]", b"[]"):
        return []
    if text in ("null", b"null"):
        return None
    return json.loads(text)
