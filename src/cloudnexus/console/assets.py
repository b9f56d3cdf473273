"""The console's files and the headers they are served with."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from cloudnexus.config import Settings
from cloudnexus.errors import NotFound

STATIC = Path(__file__).parent / "static"
_NAME = re.compile(r"[a-z0-9-]+\.(html|js|css|svg)")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}


def read(name: str) -> tuple[bytes, str]:
    """A file of the console and its media type; 404 for any other name."""
    match = _NAME.fullmatch(name)
    path = STATIC / name
    if match is None or not path.is_file():
        raise NotFound("No such console file")
    return path.read_bytes(), MEDIA_TYPES[match.group(1)]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def storage_origins(settings: Settings) -> list[str]:
    """Where presigned URLs point: the browser sends parts there and shows images from there."""
    if settings.uses_local_storage:
        return [_origin(str(settings.public_url))] if settings.public_url else []
    if settings.s3_endpoint_url:
        return [_origin(str(settings.s3_endpoint_url))]
    bucket, region = settings.s3_bucket, settings.aws_region
    return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region}.amazonaws.com"]


def headers(settings: Settings) -> dict[str, str]:
    """A strict CSP (no inline script, no eval) that still lets the console reach storage."""
    storage = " ".join(storage_origins(settings))
    policy = ("default-src 'self'; "
              f"img-src 'self' blob: {storage}; connect-src 'self' {storage}; "
              "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    return {"Content-Security-Policy": " ".join(policy.split()),
            "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY"}
