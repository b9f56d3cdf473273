"""CloudNexus's Python SDK: `Client` and `AsyncClient` over httpx, with typed errors."""

from typing import TYPE_CHECKING, Any

from cloudnexus_client.client import Client
from cloudnexus_client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    QuotaExceeded,
    ServiceUnavailable,
    TransferError,
    Unauthorized,
    UnsupportedMediaType,
    UploadMismatch,
    ValidationError,
)
from cloudnexus_client.models import (
    Bucket,
    File,
    Health,
    Key,
    Link,
    SigningKey,
    Token,
    Upload,
    Workspace,
)
from cloudnexus_client.transfer import DownloadOutcome, UploadOutcome

__all__ = [
    "ApiError", "AsyncClient", "BadRequest", "Bucket", "Client", "Conflict", "DownloadOutcome",
    "File", "Forbidden", "Health", "Key", "Link", "NotFound", "PayloadTooLarge",
    "PreconditionFailed", "QuotaExceeded", "ServiceUnavailable", "SigningKey", "Token",
    "TransferError",
    "Unauthorized", "UnsupportedMediaType", "Upload", "UploadMismatch", "UploadOutcome",
    "ValidationError", "Workspace",
]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from cloudnexus_client.aio import AsyncClient


def __getattr__(name: str) -> Any:
    """AsyncClient on first use: asyncio is a third of the import time of a sync program."""
    if name == "AsyncClient":
        from cloudnexus_client.aio import AsyncClient

        return AsyncClient
    raise AttributeError(f"module 'cloudnexus_client' has no attribute {name!r}")
