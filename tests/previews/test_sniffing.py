"""Sniffing answers what puremagic answers: for every signature in its table (headers,
footers, signatures in two parts), for real files, and for bytes nothing recognizes."""

from __future__ import annotations

import io
import os
import random
import zipfile
from collections.abc import Iterator
from typing import Any

import puremagic
import pytest
from puremagic import main as table

from cloudnexus.previews.sniffing import _identify, detect
from tests.previews.images import ELF, HTML, encoded, gif_two_frames, quadrants


def _ranked(matches: list[Any]) -> list[tuple[Any, ...]]:
    """Matches as comparable tuples (puremagic's order among equals is its table's)."""
    return sorted((match.confidence, match.mime_type, match.extension, match.name,
                   match.byte_match, match.offset) for match in matches)


def _puremagic(data: bytes) -> list[tuple[Any, ...]] | None:
    try:
        return _ranked(puremagic.magic_string(data))
    except (puremagic.PureError, ValueError):
        return None


def _ours(data: bytes) -> list[tuple[Any, ...]] | None:
    try:
        return _ranked(_identify(data))
    except (puremagic.PureError, ValueError):
        return None


def _placed(length: int, parts: list[tuple[int, bytes]], filler: bytes) -> bytes:
    """`filler` of `length` bytes with each (offset, bytes) written over it (a negative offset
    counts from the end)."""
    data = bytearray(filler[:length].ljust(length, b"\0"))
    for offset, part in parts:
        start = offset if offset >= 0 else length + offset
        data[start:start + len(part)] = part
    return bytes(data)


def _every_signature() -> Iterator[bytes]:
    noise = random.Random(7).randbytes(table.max_head + 4096)
    for row in table.magic_header_array:
        end = row.offset + len(row.byte_match)
        for filler in (bytes(end + 64), noise):
            yield _placed(max(end + 64, 2048), [(row.offset, row.byte_match)], filler)
        yield _placed(end, [(row.offset, row.byte_match)], noise)  # nothing after it
    for row in table.magic_footer_array:
        yield _placed(4096, [(row.offset, row.byte_match)], noise)
    for first, seconds in table.multi_part_dict.items():
        for head in (r for r in table.magic_header_array if r.byte_match == first):
            for second in seconds:
                yield _placed(8192, [(head.offset, first), (second.offset, second.byte_match)],
                              noise)


def _real_files() -> list[bytes]:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.txt", "hello")
    image = quadrants()
    return [encoded(image, "PNG"), encoded(image, "JPEG"), encoded(image, "WEBP"),
            gif_two_frames(), archive.getvalue(), b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
            ELF, HTML, b"plain text, nothing else", b"\0", os.urandom(70 * 1024)]


def test_every_signature_of_the_table_is_told_apart_as_puremagic_tells_it() -> None:
    samples = list(_every_signature())
    assert len(samples) > 3 * len(table.magic_header_array)
    differing = [data[:48] for data in samples if _ours(data) != _puremagic(data)]
    assert differing == []


@pytest.mark.parametrize("index", range(len(_real_files())))
def test_real_files_and_unknown_bytes_are_told_apart_as_puremagic_tells_them(index: int) -> None:
    data = _real_files()[index]
    assert _ours(data) == _puremagic(data)


def test_detect_names_the_type_or_nothing() -> None:
    assert detect(encoded(quadrants(), "PNG")) == "image/png"
    assert detect(b"") is None
    # Bytes that begin as no signature does (random ones may: "{" begins JSON's, 1 in 256).
    assert detect(random.Random(0).randbytes(16)) in (None, "application/octet-stream")
