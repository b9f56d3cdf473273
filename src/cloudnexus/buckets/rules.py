"""A bucket's rules on what it accepts: size and content type."""

from __future__ import annotations

from cloudnexus.errors import PayloadTooLarge, UnsupportedMediaType


def content_type_allowed(content_type: str, allowed: list[str] | None) -> bool:
    """`allowed` entries are exact media types or `type/*`; None allows everything."""
    if allowed is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    major = media_type.split("/", 1)[0]
    return any(pattern in (media_type, f"{major}/*") for pattern in allowed)


def check_upload(*, size: int | None, content_type: str, max_file_size: int | None,
                 allowed_content_types: list[str] | None) -> None:
    """413 over the bucket's size limit, 415 for a content type it does not allow."""
    if max_file_size is not None and size is not None and size > max_file_size:
        raise PayloadTooLarge(f"The bucket takes files of at most {max_file_size} bytes")
    if not content_type_allowed(content_type, allowed_content_types):
        raise UnsupportedMediaType(f"The bucket does not accept '{content_type}'")
