"""The Idempotency-Key check every creating POST declares (after its scope check)."""

import hashlib
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from cloudnexus.auth.dependencies import PrincipalDep
from cloudnexus.db.sessions import database_released
from cloudnexus.deps import SessionDep
from cloudnexus.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from cloudnexus.runtime import run_blocking, runtime_of
from cloudnexus.schemas import is_storable


class Replay(Exception):
    """The first response to this Idempotency-Key, to be sent again as it was."""

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code, self.body = status_code, body


async def request_hash(request: Request, limit: int) -> str:
    """SHA-256 of what makes two requests the same; the body is read whole, so it is capped."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > limit:
        raise PayloadTooLarge(f"Requests with an Idempotency-Key carry a Content-Length of at "
                              f"most {limit} bytes")
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if "boundary=" in content_type:  # clients pick a new boundary on every retry
        boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip('"')
        body = body.replace(boundary.encode(), b"BOUNDARY")
        content_type = content_type.split(";")[0]
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query, content_type):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


async def check_idempotency(
    request: Request, principal: PrincipalDep, db: SessionDep,
    idempotency_key: Annotated[str | None, Header(
        description="Retry-safe: the same key and body within 24 h returns the first response",
        max_length=255)] = None,
) -> None:
    if idempotency_key is None:
        return
    if not idempotency_key.strip():
        raise BadRequest("Idempotency-Key is empty")
    if not is_storable(idempotency_key):
        raise BadRequest("Idempotency-Key may not contain NUL or lone surrogates")
    from cloudnexus.files.direct import FORM_OVERHEAD
    from cloudnexus.idempotency import service
    from cloudnexus.idempotency.models import ROUTE_LENGTH

    route = f"{request.method} {request.url.path}"
    if len(route) > ROUTE_LENGTH or not is_storable(route):
        raise NotFound("No such resource")  # as the route would answer: no resource has it
    limit = runtime_of(request).settings.direct_upload_max_bytes + FORM_OVERHEAD
    claim = service.Claim(principal.workspace_id, idempotency_key, route)
    async with database_released(request):  # the body may take a while to arrive
        digest = await request_hash(request, limit)
    stored = await run_blocking(runtime_of(request), service.claim, db, claim=claim,
                                request_hash=digest)
    if stored is not None and stored.withheld:
        raise Conflict(f"This Idempotency-Key already created {stored.body.get('id')}, whose "
                       f"{', '.join(stored.withheld)} was shown once and is not kept: if that "
                       "response was lost, revoke it and create another")
    if stored is not None:
        raise Replay(stored.status_code, stored.body)
    request.state.idempotency_claim = claim


Idempotent = Annotated[None, Depends(check_idempotency)]
