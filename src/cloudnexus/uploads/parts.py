"""Choosing a multipart upload's part size within S3's limits."""

from __future__ import annotations

import math

MiB = 1024 * 1024
MIN_PART = 5 * MiB
MAX_PART = 5 * 1024 * MiB
MAX_PARTS = 10_000
MAX_OBJECT = 5 * 1024 * 1024 * MiB  # 5 TiB
PREFERRED_PART = 16 * MiB


def part_size_for(size: int) -> int:
    """16 MiB parts, larger only when needed to stay within 10,000 parts (whole MiB)."""
    needed = math.ceil(size / MAX_PARTS / MiB) * MiB
    return min(MAX_PART, max(PREFERRED_PART, MIN_PART, needed))


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))
