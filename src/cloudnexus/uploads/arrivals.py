"""Presigned single-PUT uploads that complete themselves when their bytes arrive: the local
backend's PUT calls this once it has stored them (app.py hands it over), as S3's
ObjectCreated notification would through the dispatcher."""

import logging

from cloudnexus.runtime import Runtime

logger = logging.getLogger("cloudnexus.uploads")


def object_arrived(runtime: Runtime, key: str) -> None:
    """Complete the pending upload whose object `key` is, with every check of complete. The
    bytes are stored whatever happens here: a failure leaves the upload to its client's
    complete, as before."""
    from cloudnexus.uploads import service

    try:
        with runtime.session_factory() as db:
            service.complete_arrived(db, runtime.storage, storage_key=key)
    except Exception:  # the PUT succeeded; the client's complete still can
        logger.warning("an upload could not complete itself", exc_info=True)
