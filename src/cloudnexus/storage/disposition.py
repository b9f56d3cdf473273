"""Content-Disposition values (RFC 6266, RFC 8187) that are safe for any file name."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

# Dropped from the quoted ASCII fallback: they end or escape the quoted string (`"`, `\`),
# are decoded by some user agents (`%`), or split the header in naive parsers (`;`).
_UNSAFE_IN_FALLBACK = frozenset('"\\%;')
_DEFAULT_NAME = "download"


def ascii_fallback(filename: str) -> str:
    """The name in printable ASCII: accents stripped, anything else replaced by `_`."""
    decomposed = unicodedata.normalize("NFKD", filename)
    kept = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        printable = " " <= char <= "~" and char not in _UNSAFE_IN_FALLBACK
        kept.append(char if printable else "_")
    name = "".join(kept).strip(" ")
    return name if name.strip("_.") else _DEFAULT_NAME


def content_disposition(filename: str, attachment: bool = True) -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (latin-1 safe, one line)."""
    kind = "attachment" if attachment else "inline"
    fallback = ascii_fallback(filename)
    # Every byte outside RFC 8187's attr-char (ALPHA / DIGIT / "!#$&+-.^_`|~") is escaped;
    # quote() keeps only ALPHA, DIGIT and "_.-~" with safe="", a subset of attr-char.
    encoded = quote(filename, safe="", errors="replace") or _DEFAULT_NAME
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
