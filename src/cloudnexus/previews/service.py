"""Previews: checked against the bucket's settings, made once (the first request renders and
stores them, create-only), counted as derived bytes, then only signed."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal

from cloudnexus.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from cloudnexus.files.reads import ReadFile
from cloudnexus.files.status import READY
from cloudnexus.previews.variants import Variant, derived_key
from cloudnexus.runtime import signed_with
from cloudnexus.storage.base import ObjectExists, Storage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cloudnexus.config import Settings
    from cloudnexus.runtime import Runtime

PREVIEWABLE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


def made_key(file: ReadFile, variant: Variant) -> str | None:
    """The derived object's key if this preview was made already, else None; 403 where
    the bucket makes none, 422 for a size it does not list, 415 for what is no image."""
    if not file.previews_enabled:
        raise Forbidden("Previews are off for this bucket (previews_enabled: false)")
    if file.preview_sizes is not None and variant.size not in file.preview_sizes:
        message = f"The bucket makes previews of {', '.join(file.preview_sizes)} only"
        raise ValidationFailed(message, details=[{
            "loc": ["query", "width"], "type": "value_error", "message": message}])
    detected = file.shown.detected_content_type
    if detected is not None and detected not in PREVIEWABLE_TYPES:
        raise UnsupportedMediaType(f"No preview of '{detected}': JPEG, PNG, WebP and GIF only")
    if file.previews and variant.name in file.previews:
        return derived_key(file.storage_key, variant)
    return None


async def signed(runtime: Runtime, key: str, *, expires_in: int) -> str:
    """A GET URL of the preview."""
    return await signed_with(runtime, lambda storage: storage.presign_get(
        key, expires_in=expires_in))


def make_now(runtime: Runtime, storage: Storage, settings: Settings, *, file: ReadFile,
             variant: Variant) -> str:
    """Render, store and count a preview not made yet (in a worker thread); its key."""
    data = make(storage, settings, file=file, variant=variant)
    with runtime.session_factory() as db:
        return store(db, storage, file=file, variant=variant, data=data)


def make(storage: Storage, settings: Settings, *, file: ReadFile, variant: Variant) -> bytes:
    """Render the preview from the source's bytes: 413 over PREVIEW_MAX_BYTES (before reading
    them) or PREVIEW_MAX_PIXELS (from the header), 415 when they are no image."""
    from cloudnexus.previews.render import NotAnImage, TooManyPixels, render

    if file.shown.size > settings.preview_max_bytes:
        raise PayloadTooLarge(f"Previews are made of files up to {settings.preview_max_bytes} "
                              f"bytes; this one has {file.shown.size}")
    with storage.open(file.storage_key) as body:
        source = body.read(settings.preview_max_bytes + 1)
    try:
        return render(source, variant, max_pixels=settings.preview_max_pixels)
    except TooManyPixels as exc:
        raise PayloadTooLarge(str(exc)) from None
    except NotAnImage as exc:
        raise UnsupportedMediaType(str(exc)) from None


def store(db: Session, storage: Storage, *, file: ReadFile, variant: Variant,
          data: bytes) -> str:
    """Publish the preview whole, create-only: of concurrent first requests one stores and
    counts it, the others find it there (the same bytes). Returns its key."""
    key = derived_key(file.storage_key, variant)
    try:
        storage.create(key, data, content_type=variant.media_type)
    except ObjectExists:
        return key
    counted = _count(db, file_id=file.shown.id, etag=file.shown.etag, name=variant.name,
                     size=len(data))
    if counted is not True:
        storage.delete(key)  # made of bytes the file no longer has: it goes too
        raise counted
    return key


def _count(db: Session, *, file_id: uuid.UUID, etag: str, name: str,
           size: int) -> Literal[True] | AppError:
    """Note the preview on its file and count its bytes, in one transaction with the file's
    row held (a delete marking it waits, and then uncounts them); the error to answer when
    the file is gone, or was overwritten (or changed) since its bytes were read."""
    from cloudnexus.files.models import File
    from cloudnexus.workspaces import usage

    file = db.get(File, file_id, with_for_update=True, populate_existing=True)
    if file is None or file.status != READY:
        db.rollback()
        return NotFound("File not found")
    if file.etag != etag:
        db.rollback()
        return Conflict("The file changed while its preview was being made; ask again")
    previews = dict(file.previews or {})
    if name not in previews:
        previews[name] = size
        file.previews, file.derived_bytes = previews, file.derived_bytes + size
        usage.change_derived(db, workspace_id=file.workspace_id, bucket_id=file.bucket_id,
                             size=size)
    db.commit()
    return True
