"""Making a preview with Pillow: the header's size checked before any pixel is decoded, JPEG
decoded at a reduced scale when the target is small, the EXIF orientation applied, colour
brought to sRGB, and nothing of the source's metadata written out.

Pillow is imported inside the functions: this module is imported only when a preview is
made (tests/test_cold_start.py)."""

from __future__ import annotations

import io
import math
import warnings
from typing import TYPE_CHECKING

from cloudnexus.previews.variants import Variant

if TYPE_CHECKING:
    from PIL.Image import Image

PREVIEWABLE = ("JPEG", "PNG", "WEBP", "GIF")  # Pillow's names; GIF: its first frame
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
ORIENTATION = 0x0112
WHITE = (255, 255, 255)


class NotAnImage(Exception):
    """The bytes are not an image a preview can be made of (or could not be decoded)."""


class TooManyPixels(Exception):
    """The image's header claims more pixels than a preview may decode."""


def render(source: bytes, variant: Variant, *, max_pixels: int) -> bytes:
    """The encoded preview of `source`; NotAnImage or TooManyPixels before decoding."""
    from PIL import Image, UnidentifiedImageError

    # Pillow's own guard on top of the check below: it refuses twice this many outright,
    # and only warns between once and twice, which the check below refuses anyway.
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    try:
        image = Image.open(io.BytesIO(source), formats=PREVIEWABLE)
    except Image.DecompressionBombError:
        raise TooManyPixels(f"The image has more than {max_pixels} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise NotAnImage("The file is not a JPEG, PNG, WebP or GIF image") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise TooManyPixels(f"The image has {width} x {height} pixels, more than "
                                f"{max_pixels}")
        try:
            orientation = orientation_of(image)
            shown = (height, width) if orientation in ROTATED else (width, height)
            target = target_size(shown, variant)
            if image.format == "JPEG":
                _draft(image, shown, target, variant, rotated=orientation in ROTATED)
            image.load()
            result = _finish(image, target, variant)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise NotAnImage(f"The image could not be decoded: {exc}") from None
    return _encode(result, variant)


def orientation_of(image: Image) -> int:
    """The EXIF orientation from the header's EXIF block, without decoding any pixel (a
    PNG's getexif() would decode the whole image to look for one after the pixels)."""
    from PIL import Image as PILImage

    raw = image.info.get("exif")
    if not raw:
        return 1
    exif = PILImage.Exif()
    exif.load(raw)
    value = exif.get(ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def target_size(shown: tuple[int, int], variant: Variant) -> tuple[int, int]:
    """The box asked for; a side left out follows the image's proportions."""
    width, height = shown
    if variant.width and variant.height:
        return variant.width, variant.height
    if variant.width:
        return variant.width, max(1, round(height * variant.width / width))
    if variant.height:
        return max(1, round(width * variant.height / height)), variant.height
    raise ValueError("a preview needs a width or a height")


def _scale(shown: tuple[int, int], target: tuple[int, int], variant: Variant) -> float:
    """How much of the source the fit needs: both sides covered (cover, fill) or one."""
    ratios = (target[0] / shown[0], target[1] / shown[1])
    return min(ratios) if variant.fit == "contain" else max(ratios)


def _draft(image: Image, shown: tuple[int, int], target: tuple[int, int], variant: Variant,
           *, rotated: bool) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the target: a
    50-megapixel photo then never exists full size in memory."""
    scale = _scale(shown, target, variant)
    if scale >= 0.5:
        return
    width, height = math.ceil(shown[0] * scale), math.ceil(shown[1] * scale)
    image.draft(image.mode, (height, width) if rotated else (width, height))


def _finish(image: Image, target: tuple[int, int], variant: Variant) -> Image:
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    image = _to_srgb(image, keep_alpha=variant.format != "jpeg")
    if variant.fit == "cover" and variant.width and variant.height:
        image = ImageOps.fit(image, target, method=_resample())
    elif variant.fit == "contain" and variant.width and variant.height:
        image = ImageOps.contain(image, target, method=_resample())
    else:
        image = image.resize(target, _resample())
    return image


def _resample() -> int:
    from PIL import Image

    return int(Image.Resampling.LANCZOS)


def _to_srgb(image: Image, *, keep_alpha: bool) -> Image:
    """RGB or RGBA in sRGB: palettes, grey, 16-bit and CMYK converted, an ICC profile
    applied (it is not written out), and alpha kept or laid on white."""
    from PIL import Image, ImageCms

    icc = image.info.get("icc_profile")
    alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info)
    if image.mode.startswith("I"):  # 16-bit grey: to 8 bits, not clipped at 255
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    mode = "RGBA" if alpha else "RGB"
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(
                image if image.mode != "L" else image.convert("RGB"), source, srgb,
                outputMode=mode if image.mode == "RGBA" else "RGB")
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels as they are
    if image.mode != mode:
        image = image.convert(mode)
    if alpha and not keep_alpha:
        flat = Image.new("RGB", image.size, WHITE)
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    return image


def _encode(image: Image, variant: Variant) -> bytes:
    out = io.BytesIO()
    image.info.clear()  # no EXIF, XMP, ICC profile or comment of the source's travels on
    if variant.format == "jpeg":
        image.save(out, "JPEG", quality=variant.quality)
    elif variant.format == "webp":
        image.save(out, "WEBP", quality=variant.quality)
    else:
        image.save(out, "PNG")
    return out.getvalue()
