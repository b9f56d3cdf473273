"""Pure ASGI middleware: request id and access log (outermost), a cap on bodies, unexpected
errors (innermost)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudnexus.errors import BadRequest, PayloadTooLarge, render, render_unexpected
from cloudnexus.limits import MiB
from cloudnexus.logs import aws_request_id_var, request_id_var
from cloudnexus.storage.signing import STORAGE_PATH

access_logger = logging.getLogger("cloudnexus.access")
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that hung up before the answer
# Every body but an upload's is JSON: metadata is at most 8 KiB, and the largest is a
# multipart complete listing 10,000 parts (about 650 KB with S3's etags).
JSON_BODY_MAX_BYTES = MiB
_DIRECT_UPLOAD_PATH = re.compile(r"/v1/buckets/[^/]+/files")


def request_id_for(scope: Scope) -> tuple[str, str | None]:
    """(request id, Lambda request id): API Gateway's id when there is one, else a new one."""
    event: dict[str, Any] = scope.get("aws.event") or {}
    context = scope.get("aws.context")
    aws_request_id = getattr(context, "aws_request_id", None)
    gateway_id = (event.get("requestContext") or {}).get("requestId")
    if gateway_id or aws_request_id:
        return str(gateway_id or aws_request_id), aws_request_id
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(candidate):
                return candidate, None
    return uuid.uuid4().hex, None


class RequestContextMiddleware:
    """Sets the request id for logs and the response, adds safe headers, logs one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, aws_request_id = request_id_for(scope)
        tokens = request_id_var.set(request_id), aws_request_id_var.set(aws_request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            status = CLIENT_CLOSED_REQUEST  # not an error: nothing is left to answer
        finally:
            path = loggable_path(scope["path"])
            access_logger.info(
                "%s %s %s", scope["method"], path, status,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(tokens[0])
            aws_request_id_var.reset(tokens[1])


def loggable_path(path: str) -> str:
    """The path for the access log: a share link's token is a credential, so it is left out."""
    return "/s/{token}" if path.startswith("/s/") else path


class UnexpectedErrorMiddleware:
    """Turns any exception that escaped the handlers into the contract's 500 (or 503)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            raise  # a hang-up, logged as such by RequestContextMiddleware
        except Exception as exc:
            if started:
                raise
            await render_unexpected(exc)(scope, receive, send)


def has_own_body_limit(scope: Scope) -> bool:
    """A direct upload and the local backend's PUTs check their own, larger limits."""
    method, path = scope["method"], scope["path"]
    return ((method == "POST" and _DIRECT_UPLOAD_PATH.fullmatch(path) is not None)
            or (method == "PUT" and path.startswith(STORAGE_PATH + "/")))


class BodyLimitMiddleware:
    """Refuses a body over JSON_BODY_MAX_BYTES with 413: at once when its Content-Length says
    so, else as soon as it passes the limit. The body is read here, so the app is handed at
    most the limit; what the client still sends is never read."""

    def __init__(self, app: ASGIApp, limit: int = JSON_BODY_MAX_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or has_own_body_limit(scope):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        whole: list[Message] = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replay() -> Message:
            return whole.pop() if whole else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"Request bodies take at most {self.limit} bytes (files go "
                                "to POST /v1/buckets/{bucket}/files or /uploads)")
        await render(error)(scope, receive, send)


class CORSMiddleware(StarletteCORSMiddleware):
    """Starlette's CORS, except that a refused preflight is the contract's JSON error, not text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        headers = {name: value for name, value in response.headers.items()
                   if name not in ("content-length", "content-type")}
        return render(BadRequest(bytes(response.body).decode(), headers=headers))
