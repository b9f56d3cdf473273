"""A route class that replays remembered responses and remembers new 2xx ones."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from cloudnexus.idempotency.dependencies import Replay
from cloudnexus.runtime import run_blocking, runtime_of


class IdempotentRoute(APIRoute):
    withheld: frozenset[str] = frozenset()  # response fields shown once, never stored

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_idempotently(request: Request) -> Response:
            try:
                response = await handle(request)
            except Replay as replay:
                return JSONResponse(replay.body, status_code=replay.status_code,
                                    headers={"Idempotent-Replayed": "true"})
            except BaseException:
                await _settle(request, None, self.withheld)
                raise
            await _settle(request, response, self.withheld)
            return response

        return handle_idempotently


async def _settle(request: Request, response: Response | None,
                  withheld: frozenset[str]) -> None:
    """Remember a 2xx response under the request's claim; release the claim otherwise."""
    claim = getattr(request.state, "idempotency_claim", None)
    if claim is None:
        return
    from cloudnexus.idempotency import service

    # The request's own session: a second connection per request could wait forever on a pool
    # whose connections are all held by requests waiting for a second one.
    db = request.state.db_session

    def settle() -> None:
        db.rollback()  # whatever the route left uncommitted (it failed) is not kept
        if response is not None and 200 <= response.status_code < 300:
            body = json.loads(bytes(response.body)) if response.body else None
            service.complete(db, claim=claim, status_code=response.status_code, body=body,
                             withheld=withheld)
        else:
            service.release(db, claim=claim)

    await run_blocking(runtime_of(request), settle)
