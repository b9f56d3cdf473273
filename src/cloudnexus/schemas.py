"""Schemas every domain shares: the error body, usage, and the OpenAPI error responses."""

from __future__ import annotations

import uuid
import warnings
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.warnings import UnsupportedFieldAttributeWarning

from cloudnexus.errors import NotFound

# FastAPI wraps a body's model in a TypeAdapter carrying the field's alias and silences
# Pydantic's "alias has no effect here" warning while it builds it; with `defer_build` that
# build happens on the first request instead, outside FastAPI's silence. True and harmless.
warnings.filterwarnings("ignore", message="The 'alias' attribute",
                        category=UnsupportedFieldAttributeWarning)

MAX_BIGINT = 2**63 - 1  # the largest count or size a BIGINT column holds


def parse_id(value: str, what: str) -> uuid.UUID:
    """A malformed id names no resource: 404, like a missing one."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} not found") from None


def is_storable(text: str) -> bool:
    """No NUL (PostgreSQL's text and JSON cannot hold it) and no lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(text: str) -> str:
    """A validator: the text unchanged, or a validation error."""
    if not is_storable(text):
        raise ValueError("may not contain NUL or lone surrogates")
    return text


StorableText = Annotated[str, AfterValidator(storable_text)]


class Model(BaseModel):
    """Base for every schema: validators are built on first use, not at import, which keeps
    about 60 ms of building for routes a cold start does not serve out of `import main`."""

    model_config = ConfigDict(defer_build=True)


class Schema(Model):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Model):
    code: str
    message: str
    request_id: str | None
    details: list[Any]


class ErrorBody(Model):
    error: ErrorDetail


class Usage(Model):
    bytes: int
    files: int
    derived_bytes: int = Field(description="Previews' bytes: counted apart from `bytes`, "
                                              "not against `max_bytes`")


_DESCRIPTIONS = {
    400: "Malformed request: body, header or parameter",
    401: "Missing, malformed, unknown, revoked or expired key",
    403: "The key lacks the scope, or the quota would be exceeded",
    404: "No such resource in this workspace",
    409: "Conflict: a name taken, a bucket not empty, an Idempotency-Key reused",
    410: "Gone: a share link expired or used up",
    412: "If-Match does not match", 413: "Payload too large", 415: "Content type not allowed",
    422: "Invalid fields", 503: "A dependency is unavailable",
}


_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer: 400 (a body that is not
    JSON, a malformed header), 401, 413 (a body over the middleware's bound), 422 and 503
    always.

    The body is named by reference (`error_schemas` puts it in the document): as a response
    model it would cost a Pydantic field per status per route, 157 of them, at import."""
    return {
        status: {"description": _DESCRIPTIONS[status], "content": _ERROR_CONTENT}
        for status in sorted({400, 401, 413, 422, 503, *statuses})
    }


def error_schemas() -> dict[str, Any]:
    """ErrorBody and the models it holds, as components of the OpenAPI document."""
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}",
                                         mode="serialization")
    return {**schema.pop("$defs", {}), "ErrorBody": schema}
