"""Choosing a multipart upload's part size within S3's limits."""

from __future__ import annotations

import math

from cloudnexus.limits import MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES, MiB

PREFERRED_PART = 16 * MiB


def part_size_for(size: int) -> int:
    """16 MiB parts, larger only when needed to stay within 10,000 parts (whole MiB)."""
    needed = math.ceil(size / MAX_PARTS / MiB) * MiB
    return min(MAX_PART_BYTES, max(PREFERRED_PART, MIN_PART_BYTES, needed))


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def part_length(size: int, part_size: int, part_number: int) -> int:
    """The exact length of part `part_number` of an object of `size` bytes: `part_size` for
    every part but the last, which holds the rest (what its URL is signed for)."""
    count = part_count(size, part_size)
    if not 1 <= part_number <= count:
        raise ValueError(f"part_number must be 1..{count}")
    return part_size if part_number < count else size - part_size * (count - 1)
