"""Object keys derived from ids, never from user paths."""

from __future__ import annotations

import uuid

PUBLIC_PREFIX = "uploads/"
PRIVATE_PREFIX = "private/"


def object_key(*, public: bool, workspace_id: uuid.UUID, bucket_id: uuid.UUID,
               file_id: uuid.UUID) -> str:
    """`uploads/...` for public buckets (the only prefix a public-read policy may cover)."""
    prefix = PUBLIC_PREFIX if public else PRIVATE_PREFIX
    return f"{prefix}{workspace_id}/{bucket_id}/{file_id}"
