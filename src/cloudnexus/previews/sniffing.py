"""What a file's first bytes are: the media type (puremagic's signatures) and, for images,
their size as displayed and format (Pillow reads only the header).

Both libraries are imported inside the functions: only an upload pays for them, never
`import main` (tests/test_cold_start.py)."""

from __future__ import annotations

import functools
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from cloudnexus.previews.render import ROTATED, orientation_of

SNIFF_BYTES = 64 * 1024  # a JPEG's EXIF block (which holds the orientation) fits in 64 KiB
# For a format the library knows but names no single media type for (an ELF executable; a
# ZIP that could be any of several Office formats): known, and not any allowed type.
UNNAMED = "application/octet-stream"
_IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP",
                  "image/gif": "GIF"}


@dataclass(frozen=True)
class Sniffed:
    content_type: str | None  # None: not recognized
    image: dict[str, Any] | None  # {"width", "height", "format"} for images


def sniff(head: bytes) -> Sniffed:
    """The type of the bytes `head` begins (at most SNIFF_BYTES of a file)."""
    content_type = detect(head)
    pillow_format = _IMAGE_FORMATS.get(content_type or "")
    return Sniffed(content_type, image_info(head, pillow_format) if pillow_format else None)


def detect(head: bytes) -> str | None:
    import puremagic

    try:
        matches = _identify(head)
    except (puremagic.PureError, ValueError):  # nothing matched, or no bytes
        return None
    if not matches:
        return None
    best = matches[0].confidence
    types = {match.mime_type for match in matches if match.confidence == best}
    return types.pop() if len(types) == 1 and "" not in types else UNNAMED


Signatures = dict[int, dict[int, list[Any]]]


@functools.cache
def _signatures() -> Signatures:
    """puremagic's header signatures by offset, then by their first byte."""
    from puremagic import main

    index: Signatures = defaultdict(lambda: defaultdict(list))
    for row in main.magic_header_array:
        index[row.offset][row.byte_match[0]].append(row)
    return {offset: dict(rows) for offset, rows in index.items()}


def _identify(data: bytes) -> list[Any]:
    """What puremagic.magic_string(data) answers, without trying each of its 1,400 header
    signatures in turn (its loop took more CPU than the rest of a small upload): only those
    whose first byte is the one at their offset. The footers and the signatures in several
    parts are matched as puremagic matches them, and ranked by its own `_confidence`."""
    from puremagic import main

    if not data:
        raise ValueError("Input was empty")
    header, footer = data[:main.max_head], data[-main.max_foot:]
    matches = []
    for offset, by_first_byte in _signatures().items():
        if offset < len(header):
            for row in by_first_byte.get(header[offset], ()):
                if header[offset:offset + len(row.byte_match)] == row.byte_match:
                    matches.append(row)
    matches += [row for row in main.magic_footer_array
                if _ends_with(footer, row.offset, row.byte_match)]
    matches += _multi_part(matches, header, footer)
    return main._confidence(matches)  # its own ranking (a private function, pinned version)


def _ends_with(footer: bytes, offset: int, signature: bytes) -> bool:
    """Whether `signature` is at `offset` (negative: from the end) of `footer`."""
    end = offset + len(signature)
    return (footer[offset:end] if end != 0 else footer[offset:]) == signature


def _multi_part(matches: list[Any], header: bytes, footer: bytes) -> set[Any]:
    """puremagic's second parts of the signatures matched (as its _identify_all finds them):
    each a copy of the second part's row, its bytes those of both parts."""
    from puremagic import main

    found = set()
    for matched in matches:
        for row in main.multi_part_dict.get(matched.byte_match, ()):
            end = row.offset + len(row.byte_match)
            if row.offset < 0:
                if _ends_with(footer, row.offset, row.byte_match):
                    found.add(row._replace(byte_match=matched.byte_match + row.byte_match))
            elif end <= len(header) and header[row.offset:end] == row.byte_match:
                found.add(row._replace(byte_match=header[matched.offset:end]))
    return found


def image_info(head: bytes, pillow_format: str) -> dict[str, Any] | None:
    """Width and height as displayed (after the EXIF orientation) and the format, from the
    header; None when the header cannot be read from these bytes (a WebP is parsed whole:
    one longer than SNIFF_BYTES has none).

    The format's class is used directly rather than Image.open, whose decompression-bomb
    check would refuse to even tell the size of a huge image: nothing is decoded here."""
    from PIL import Image

    Image.init()
    factory = Image.OPEN[pillow_format][0]
    try:
        with factory(io.BytesIO(head)) as image:  # type: ignore[call-arg]  # typed as Image.open's
            width, height = image.size
            orientation = orientation_of(image)
    except (OSError, SyntaxError, ValueError, EOFError, KeyError, IndexError):
        return None
    if orientation in ROTATED:
        width, height = height, width
    return {"width": width, "height": height, "format": pillow_format.lower()}
