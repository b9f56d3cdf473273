"""Typed errors carrying the contract's status and code, and the one place that renders them."""

from __future__ import annotations

import logging
import sys
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloudnexus.logs import current_request_id

logger = logging.getLogger("cloudnexus.errors")


class AppError(Exception):
    status: int = 500
    code: str = "internal"
    message: str = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.details = details or []
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(AppError):
    status, code, message = 400, "bad_request", "Bad request"


class Unauthorized(AppError):
    status, code, message = 401, "unauthorized", "A valid API key is required"


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "Forbidden"


class QuotaExceeded(AppError):
    status, code, message = 403, "quota_exceeded", "The workspace quota would be exceeded"


class NotFound(AppError):
    status, code, message = 404, "not_found", "Not found"


def bucket_not_found(name: str) -> NotFound:
    """The 404 of a bucket, naming it as the caller wrote it (cut short if very long)."""
    shown = name if len(name) <= 63 else name[:62] + "…"
    return NotFound(f"Bucket '{shown}' not found")


class MethodNotAllowed(AppError):
    status, code, message = 405, "method_not_allowed", "Method not allowed"


class Conflict(AppError):
    status, code, message = 409, "conflict", "Conflict"


class Gone(AppError):
    status, code, message = 410, "gone", "Gone"


class PreconditionFailed(AppError):
    status, code, message = 412, "precondition_failed", "If-Match does not match the current etag"


class PayloadTooLarge(AppError):
    status, code, message = 413, "payload_too_large", "Payload too large"


class HeadersTooLarge(AppError):
    status, code, message = 431, "headers_too_large", "The request's headers are too large"


class UnsupportedMediaType(AppError):
    status, code, message = 415, "unsupported_media_type", "Content type not allowed"


class ValidationFailed(AppError):
    status, code, message = 422, "validation_error", "Invalid fields"


class UploadMismatch(AppError):
    status, code, message = 422, "upload_mismatch", "Stored object differs from the declaration"


class ServiceUnavailable(AppError):
    status, code, message = 503, "service_unavailable", "A dependency is unavailable"

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


def error_of(code: str, message: str, details: list[Any] | None = None) -> AppError:
    """The typed error whose `code` this is, carrying `message` and `details` again (a
    refusal recorded earlier, answered once more)."""
    pending = [AppError]
    while pending:
        kind = pending.pop(0)
        if kind.code == code and kind.__init__ is AppError.__init__:
            return kind(message, details=details)
        pending.extend(kind.__subclasses__())
    return AppError(message, details=details)


def error_body(status: int, code: str, message: str,
               details: list[Any] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "request_id": current_request_id(),
            "details": details or [],
        }
    }


def render(error: AppError) -> JSONResponse:
    body = error_body(error.status, error.code, error.message, error.details)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def as_unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """Map a dependency's connection failure to 503, without importing the dependency."""
    checks = (
        ("sqlalchemy.exc", ("OperationalError", "InterfaceError", "TimeoutError")),
        ("psycopg", ("OperationalError",)),
        ("botocore.exceptions", ("EndpointConnectionError", "ConnectionError",
                                 "ConnectTimeoutError", "ReadTimeoutError")),
    )
    for module_name, class_names in checks:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        classes = tuple(getattr(module, name) for name in class_names if hasattr(module, name))
        if classes and isinstance(exc, classes):
            dependency = "storage" if module_name.startswith("botocore") else "database"
            logger.warning("%s unavailable: %s", dependency, type(exc).__name__)
            return ServiceUnavailable(f"The {dependency} is unavailable, retry shortly")
    return None


def render_unexpected(exc: BaseException) -> JSONResponse:
    """A 503 for a dependency outage, else a 500 whose traceback goes to the log only."""
    unavailable = as_unavailable(exc)
    if unavailable is not None:
        return render(unavailable)
    logger.error("Unhandled %s", type(exc).__name__, exc_info=exc)
    return render(AppError())


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    return render(cast(AppError, exc))


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, error)
    by_status: dict[int, type[AppError]] = {
        404: NotFound, 405: MethodNotAllowed, 400: BadRequest, 401: Unauthorized,
        403: Forbidden, 413: PayloadTooLarge, 415: UnsupportedMediaType,
    }
    error_class = by_status.get(exc.status_code)
    if error_class is None:
        return JSONResponse(
            error_body(exc.status_code, "error", str(exc.detail)),
            status_code=exc.status_code, headers=exc.headers,
        )
    message = error_class.message if exc.status_code == 404 else str(exc.detail)
    return render(error_class(message, headers=dict(exc.headers or {})))


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, error)
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return render(BadRequest("The request body is not valid JSON"))
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if (media_type != "application/json" and not media_type.endswith("+json")
            and any(tuple(error["loc"]) == ("body",) for error in exc.errors())):
        got = f"got {content_type!r}" if content_type else "no Content-Type was sent"
        return render(BadRequest(
            f"Send the body as JSON with the header Content-Type: application/json ({got})"))
    details = [
        {"loc": list(error["loc"]), "message": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return render(ValidationFailed(details=details))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
