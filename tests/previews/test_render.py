"""Colour kept right whatever the source's mode: CMYK, 16-bit grey, palettes with
transparency, grey with alpha, an embedded ICC profile (applied, never written out)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from cloudnexus.previews.render import NotAnImage, TooManyPixels, render
from cloudnexus.previews.variants import Variant
from tests.previews.images import encoded, metadata_of, opened, png_claiming

MAX_PIXELS = 50_000_000


def preview(data: bytes, kind: str = "png", **size: int) -> Image.Image:
    variant = Variant(size.get("width", 20), size.get("height"), format=kind)  # type: ignore[arg-type]
    return opened(render(data, variant, max_pixels=MAX_PIXELS))


def test_cmyk_jpeg_comes_out_rgb_with_its_colour() -> None:
    red = Image.new("CMYK", (40, 40), (0, 255, 255, 0))
    image = preview(encoded(red, "JPEG", quality=95), "jpeg")
    assert image.mode == "RGB"
    r, g, b = image.getpixel((10, 10))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    grey = Image.new("I;16", (40, 40), 32768)
    image = preview(encoded(grey, "PNG"))
    assert image.mode == "RGB"
    assert all(abs(channel - 128) <= 2 for channel in image.getpixel((10, 10)))  # type: ignore[union-attr]


def test_palette_transparency_and_grey_alpha_are_kept() -> None:
    palette = Image.new("P", (40, 40), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(0, (20, 0, 40, 40))
    kept = preview(encoded(palette, "PNG", transparency=0))
    assert kept.mode == "RGBA"
    assert kept.getpixel((2, 10)) == (255, 0, 0, 255) and kept.getpixel((18, 10))[3] == 0  # type: ignore[index]
    grey = Image.new("LA", (40, 40), (90, 0))
    assert preview(encoded(grey, "PNG"), "webp").getpixel((5, 5))[3] == 0  # type: ignore[index]


def test_an_icc_profile_is_applied_and_not_written() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = encoded(Image.new("RGB", (40, 40), (10, 200, 30)), "JPEG", quality=95,
                     icc_profile=profile)
    assert opened(source).info.get("icc_profile")
    for kind in ("jpeg", "png", "webp"):
        image = preview(source, kind)
        assert metadata_of(image) == {}
        r, g, b = image.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
        assert r < 50 and g > 160 and b < 70


def test_headers_and_bytes_that_must_not_be_decoded() -> None:
    with pytest.raises(TooManyPixels):
        render(png_claiming(30_000, 30_000), Variant(64, None), max_pixels=MAX_PIXELS)
    with pytest.raises(TooManyPixels):  # over the setting, under Pillow's own guard
        render(png_claiming(2000, 2000), Variant(64, None), max_pixels=1_000_000)
    with pytest.raises(NotAnImage):
        render(b"%PDF-1.4 not an image", Variant(64, None), max_pixels=MAX_PIXELS)
    bmp = io.BytesIO()
    Image.new("RGB", (10, 10)).save(bmp, "BMP")
    with pytest.raises(NotAnImage):  # an image, but not one previews are made of
        render(bmp.getvalue(), Variant(64, None), max_pixels=MAX_PIXELS)
