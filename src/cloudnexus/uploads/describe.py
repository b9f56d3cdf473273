"""An upload as the API shows it: fresh URLs for what is still to send."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloudnexus.config import Settings
from cloudnexus.db.columns import utcnow
from cloudnexus.storage.base import ObjectNotFound, Storage, UploadedPart
from cloudnexus.uploads.models import PENDING, SINGLE, Upload
from cloudnexus.uploads.parts import part_count, part_length
from cloudnexus.uploads.schemas import (
    PART_URLS_PER_RESPONSE,
    PartUrl,
    ReceivedPart,
    UploadCreate,
    UploadOut,
    UploadRefusal,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cloudnexus.auth.principal import Principal
    from cloudnexus.buckets.reads import BucketSettings


def shown(upload: Upload) -> UploadOut:
    """The upload without URLs: what it is, its status, and the refusal that ended it."""
    refusal = None if upload.refusal is None else UploadRefusal.model_validate(upload.refusal)
    # The column holds str; the constraint on it (and the writers) keep it to the Literal's.
    return UploadOut(id=upload.id, file_id=upload.result_file_id, method=upload.method,  # type: ignore[arg-type]
                     status=upload.status, path=upload.path, size=upload.size,
                     content_type=upload.content_type, expires_at=upload.expires_at,
                     error=refusal)


def start(db: Session, storage: Storage, settings: Settings, *, bucket: BucketSettings,
          request: UploadCreate, principal: Principal) -> UploadOut:
    """Start a presigned upload and describe it (in one worker thread: the route's)."""
    from cloudnexus.uploads import service

    upload = service.create(db, storage, settings, bucket=bucket, request=request,
                            grant=principal.grant, created_by=principal.created_by)
    return describe(storage, settings, upload, just_created=True)


def describe(storage: Storage, settings: Settings, upload: Upload, *,
             just_created: bool = False, part_number_marker: int = 0) -> UploadOut:
    """The upload with fresh URLs for what is still to send (and, for multipart, the parts
    already received, so a client can resume after a crash).

    A multipart upload lists URLs for at most PART_URLS_PER_RESPONSE parts after
    `part_number_marker`: a response for 10,000 parts would be megabytes (over Lambda's
    6 MB with a session token) and seconds of signing."""
    out = shown(upload)
    if upload.status != PENDING:
        return out
    remaining = int((upload.expires_at - utcnow()).total_seconds())
    expires_in = max(1, min(settings.presign_expires, remaining))
    if upload.method == SINGLE:
        signed = storage.presign_put(upload.storage_key, content_type=upload.content_type,
                                     size=upload.size, sha256=upload.sha256,
                                     expires_in=expires_in)
        out.url, out.headers = signed.url, signed.headers
        return out
    if upload.multipart_id is None or upload.part_size is None:
        raise ValueError("a multipart upload without its id or part size")
    received = [] if just_created else _received(storage, upload)
    out.part_size = upload.part_size
    out.parts_received = [ReceivedPart(part_number=p.part_number, etag=p.etag, size=p.size)
                          for p in received or []]
    to_send = _parts_to_send(upload, received, after=part_number_marker)
    window = to_send[:PART_URLS_PER_RESPONSE]
    out.parts = [PartUrl(part_number=number, url=storage.presign_part(
        upload.storage_key, upload.multipart_id, number, expires_in=expires_in,
        size=part_length(upload.size, upload.part_size, number)))
        for number in window]
    out.parts_truncated = len(to_send) > len(window)
    out.next_part_number_marker = window[-1] if out.parts_truncated else None
    return out


def _received(storage: Storage, upload: Upload) -> list[UploadedPart] | None:
    """The parts received so far; None once the multipart upload is gone (assembled by a
    complete that did not get to record it: completing again checks the object)."""
    try:
        return storage.list_parts(upload.storage_key, str(upload.multipart_id))
    except ObjectNotFound:
        return None


def _parts_to_send(upload: Upload, received: list[UploadedPart] | None, *,
                   after: int) -> list[int]:
    if received is None or upload.part_size is None:
        return []
    done = {part.part_number for part in received}
    return [number for number in range(after + 1, part_count(upload.size, upload.part_size) + 1)
            if number not in done]
