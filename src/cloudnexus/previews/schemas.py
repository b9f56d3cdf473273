"""The query of /preview, as a Variant."""

from typing import Annotated

from fastapi import Depends, Query

from cloudnexus.errors import ValidationFailed
from cloudnexus.previews.variants import MAX_SIDE, Fit, Format, Variant

Side = Annotated[int | None, Query(ge=1, le=MAX_SIDE, description=f"1..{MAX_SIDE} pixels")]


def variant(width: Side = None, height: Side = None, fit: Fit = "cover",
            format: Format = "webp",
            quality: Annotated[int, Query(ge=20, le=100)] = 80) -> Variant:
    """The preview asked for: at least one side (the other follows the image's proportions)."""
    if width is None and height is None:
        raise ValidationFailed("Give width, height or both", details=[{
            "loc": ["query", "width"], "type": "missing", "message": "width or height needed"}])
    return Variant(width, height, fit, format, quality)


VariantDep = Annotated[Variant, Depends(variant)]
