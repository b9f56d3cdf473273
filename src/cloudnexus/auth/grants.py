"""What a delegated token may do: its buckets, the path prefix inside them, its operations and
its limits. Every route's dependency asks the one grant these questions, whatever the route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cloudnexus.buckets.rules import content_type_allowed
from cloudnexus.errors import Forbidden, PayloadTooLarge, UnsupportedMediaType

Operation = Literal["list", "read", "write", "delete"]
OPERATIONS: tuple[Operation, ...] = ("list", "read", "write", "delete")


@dataclass(frozen=True)
class Grant:
    """The `cnx` claim of a verified token. A prefix is a plain string prefix, as in S3
    policies: a minter ends it with `/` so that `users/4` does not also cover `users/42/`."""

    buckets: tuple[str, ...]
    prefix: str
    operations: tuple[Operation, ...]
    max_file_size: int | None = None
    content_types: tuple[str, ...] | None = None

    def allows(self, operation: Operation) -> bool:
        return operation in self.operations

    def covers(self, bucket: str, path: str | None = None) -> bool:
        """Whether the bucket, and the path in it when given, lie inside the grant (outside:
        the caller answers 404, as for a resource that does not exist)."""
        return bucket in self.buckets and (path is None or path.startswith(self.prefix))

    def check_new_path(self, path: str) -> None:
        """A path the request would create or move a file to: 403 outside the prefix."""
        if not path.startswith(self.prefix):
            raise Forbidden(f"This token may only write paths that start with {self.prefix!r}")

    def check_new_file(self, *, path: str, size: int, content_type: str) -> None:
        """A new file: inside the prefix (403), within the token's limits."""
        self.check_new_path(path)
        self.check_limits(size=size, content_type=content_type)

    def check_limits(self, *, size: int, content_type: str) -> None:
        """Within the token's size (413) and content types (415), as a bucket's own rules
        are checked."""
        if self.max_file_size is not None and size > self.max_file_size:
            raise PayloadTooLarge(f"This token uploads files of at most {self.max_file_size} "
                                  "bytes")
        allowed = list(self.content_types) if self.content_types is not None else None
        if not content_type_allowed(content_type, allowed):
            raise UnsupportedMediaType(f"This token may not upload '{content_type}'")

    def listing_prefix(self, requested: str | None) -> str:
        """The prefix a listing runs under: the token's, or a narrower one inside it (403)."""
        if requested is None:
            return self.prefix
        if not requested.startswith(self.prefix):
            raise Forbidden(f"This token may only list under {self.prefix!r}")
        return requested
