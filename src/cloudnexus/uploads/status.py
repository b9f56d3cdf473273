"""An upload's status: `pending` until completed, aborted, expired or failed."""

PENDING, COMPLETED, ABORTED, EXPIRED = "pending", "completed", "aborted", "expired"
FAILED = "failed"  # a multipart upload whose assembled object failed the check: its parts are gone
