"""Presigned single-PUT uploads that complete themselves when their bytes arrive: the local
backend's PUT calls `object_arrived` once it has stored them (app.py hands it over); on AWS,
S3's ObjectCreated notification reaches the dispatcher function through its queue, which
calls `complete_stored` (dispatch.py)."""

import logging

from cloudnexus.runtime import Runtime

logger = logging.getLogger("cloudnexus.uploads")


def object_arrived(runtime: Runtime, key: str) -> None:
    """Complete the pending upload whose object `key` is, with every check of complete. The
    bytes are stored whatever happens here: a failure leaves the upload to its client's
    complete, as before."""
    try:
        complete_stored(runtime, key)
    except Exception:  # the PUT succeeded; the client's complete still can
        logger.warning("an upload could not complete itself", exc_info=True)


def complete_stored(runtime: Runtime, key: str) -> bool:
    """Complete the pending single-PUT upload whose object `key` is, as its client's complete
    would (a refusal is kept for that complete to answer); False when no pending upload has
    that key or a check refused it. A failure to reach the database or storage is raised."""
    from cloudnexus.uploads import service

    with runtime.session_factory() as db:
        return service.complete_arrived(db, runtime.storage, storage_key=key) is not None
