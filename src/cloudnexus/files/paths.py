"""The one place a user's file path is checked (storage keys never come from it)."""

from __future__ import annotations

import unicodedata

from cloudnexus.errors import BadRequest

MAX_PATH_BYTES = 1024


def check_path(path: str) -> str:
    """The path unchanged, or 400 if it could be unsafe anywhere it is used as a name."""
    size = len(path.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= MAX_PATH_BYTES:
        raise BadRequest(f"A path has 1 to {MAX_PATH_BYTES} bytes of UTF-8")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in path):
        raise BadRequest("A path may not contain NUL, control characters or lone surrogates")
    if path.startswith("/"):
        raise BadRequest("A path may not start with '/'")
    if "//" in path:
        raise BadRequest("A path may not contain '//'")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise BadRequest("A path may not contain '.' or '..' segments")
    return path


def search_key(text: str) -> str:
    """What `q` is matched against: the path case-folded (Ü matches ü, ß matches ss)."""
    return text.casefold()


def file_name(path: str) -> str:
    """The last segment: the name a download is saved under."""
    return path.rstrip("/").rsplit("/", 1)[-1] or "download"
