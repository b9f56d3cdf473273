"""Typed errors mapped from the contract's error codes."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer of the API: its status, code, message, request id and details."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None,
                 details: list[Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details or []


class BadRequest(ApiError): ...
class Unauthorized(ApiError): ...
class Forbidden(ApiError): ...
class QuotaExceeded(Forbidden): ...
class NotFound(ApiError): ...
class Conflict(ApiError): ...
class PreconditionFailed(ApiError): ...
class PayloadTooLarge(ApiError): ...
class UnsupportedMediaType(ApiError): ...
class ValidationError(ApiError): ...
class UploadMismatch(ValidationError): ...
class ServiceUnavailable(ApiError): ...


class TransferError(Exception):
    """A transfer that could not finish although every request answered (e.g. a bad checksum)."""


ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    "bad_request": BadRequest,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "quota_exceeded": QuotaExceeded,
    "not_found": NotFound,
    "conflict": Conflict,
    "precondition_failed": PreconditionFailed,
    "payload_too_large": PayloadTooLarge,
    "unsupported_media_type": UnsupportedMediaType,
    "validation_error": ValidationError,
    "upload_mismatch": UploadMismatch,
    "service_unavailable": ServiceUnavailable,
}
ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    412: PreconditionFailed, 413: PayloadTooLarge, 415: UnsupportedMediaType,
    422: ValidationError, 503: ServiceUnavailable,
}


def error_from(status: int, body: Any, request_id: str | None) -> ApiError:
    """The typed error for an answer; storage answers (not the API's shape) map by status."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code", "internal"))
        kind = ERRORS_BY_CODE.get(code) or ERRORS_BY_STATUS.get(status, ApiError)
        return kind(status, code, str(error.get("message", "")),
                    error.get("request_id") or request_id, error.get("details"))
    kind = ERRORS_BY_STATUS.get(status, ApiError)
    text = body if isinstance(body, str) else ""
    return kind(status, "http_" + str(status), text[:500] or f"HTTP {status}", request_id)
