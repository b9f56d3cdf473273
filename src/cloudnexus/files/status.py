"""A file's status: only `ready` files are listed or served."""

READY, DELETING, MISSING = "ready", "deleting", "missing"
