"""CloudNexus's Python SDK: `Client` and `AsyncClient` over httpx, with typed errors."""

from cloudnexus_client.aio import AsyncClient
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
from cloudnexus_client.models import Bucket, File, Health, Key, Link, Upload, Workspace
from cloudnexus_client.transfer import DownloadOutcome, UploadOutcome

__all__ = [
    "ApiError", "AsyncClient", "BadRequest", "Bucket", "Client", "Conflict", "DownloadOutcome",
    "File", "Forbidden", "Health", "Key", "Link", "NotFound", "PayloadTooLarge",
    "PreconditionFailed", "QuotaExceeded", "ServiceUnavailable", "TransferError",
    "Unauthorized", "UnsupportedMediaType", "Upload", "UploadMismatch", "UploadOutcome",
    "ValidationError", "Workspace",
]
__version__ = "0.1.0"
