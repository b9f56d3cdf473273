"""Sniffing at upload: the first bytes of what was stored, checked against the bucket."""

from __future__ import annotations

from typing import BinaryIO

from cloudnexus.buckets.rules import content_type_allowed
from cloudnexus.errors import UnsupportedMediaType
from cloudnexus.previews.sniffing import SNIFF_BYTES, Sniffed, sniff
from cloudnexus.storage.base import Storage


def sniff_body(body: BinaryIO) -> Sniffed:
    """Sniff a seekable body's first bytes, leaving it at its start."""
    body.seek(0)
    head = body.read(SNIFF_BYTES)
    body.seek(0)
    return sniff(head)


def sniff_stored(storage: Storage, key: str) -> Sniffed:
    """Sniff a stored object's first bytes (a ranged GET on S3, never the whole object)."""
    return sniff(storage.read_head(key, SNIFF_BYTES))


def check_detected(sniffed: Sniffed, allowed: list[str] | None) -> None:
    """415 when the bytes are recognized as a type the bucket does not allow (an executable
    declared image/png); bytes nothing recognizes are judged by their declared type."""
    detected = sniffed.content_type
    if detected is not None and not content_type_allowed(detected, allowed):
        raise UnsupportedMediaType(f"The bytes are '{detected}', which the bucket does not "
                                   "accept, whatever type they were declared as")
