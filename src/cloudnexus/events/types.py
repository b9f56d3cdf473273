"""The event types, and the patterns (`file.*`, `*`) that webhooks and filters name them by."""

FILE_CREATED = "file.created"
FILE_UPDATED = "file.updated"
FILE_DELETED = "file.deleted"
UPLOAD_FAILED = "upload.failed"
BUCKET_CREATED = "bucket.created"
BUCKET_UPDATED = "bucket.updated"
BUCKET_DELETED = "bucket.deleted"
EVENT_TYPES = (FILE_CREATED, FILE_UPDATED, FILE_DELETED, UPLOAD_FAILED, BUCKET_CREATED,
               BUCKET_UPDATED, BUCKET_DELETED)


def matches(pattern: str, type_: str) -> bool:
    """Whether `pattern` (a type, a family such as `file.*`, or `*`) names `type_`."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return type_.startswith(pattern[:-1])
    return pattern == type_


def matches_any(pattern: str) -> bool:
    return any(matches(pattern, type_) for type_ in EVENT_TYPES)
