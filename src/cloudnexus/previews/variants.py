"""A preview's variant: the size, fit, format and quality asked for, its name, and the key of
its derived object (made from the file's key and the variant, never from user input)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Fit = Literal["cover", "contain", "fill"]
Format = Literal["webp", "jpeg", "png"]
MAX_SIDE = 2500
DERIVED_PREFIX = "previews/"
MEDIA_TYPES: dict[str, str] = {"webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png"}


@dataclass(frozen=True)
class Variant:
    width: int | None
    height: int | None
    fit: Fit = "cover"
    format: Format = "webp"
    quality: int = 80

    @property
    def size(self) -> str:
        """As a bucket's `preview_sizes` lists it: `64x64` (a side not asked for is empty)."""
        return f"{self.width or ''}x{self.height or ''}"

    @property
    def name(self) -> str:
        """Unique per distinct output; quality only where the format has one."""
        quality = f"-q{self.quality}" if self.format != "png" else ""
        return f"{self.size}-{self.fit}{quality}.{self.format}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def derived_prefix(storage_key: str) -> str:
    """Where a file's previews are kept: `previews/{workspace}/{bucket}/{file}/`, never under
    `uploads/`, so a public bucket's read policy does not cover them."""
    return f"{DERIVED_PREFIX}{storage_key.split('/', 1)[1]}/"


def derived_key(storage_key: str, variant: Variant) -> str:
    return derived_prefix(storage_key) + variant.name
