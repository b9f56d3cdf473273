"""Real images made for the tests, and a way to look inside what the service made."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
GPS_IFD = 0x8825
ORIENTATION = 0x0112
# exif_transpose's inverse: what to do to the displayed picture so that the orientation
# tag brings it back.
UNDO = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270}
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><head><title>x</title></head><body>cat</body></html>"


def quadrants(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """Red top left, green top right, blue bottom left, white bottom right."""
    width, height = size
    image = Image.new("RGB", size, WHITE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    return image


def encoded(image: Image.Image, kind: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def jpeg_oriented(orientation: int, shown: tuple[int, int] = (300, 200)) -> bytes:
    """A JPEG displayed as quadrants(shown) once its EXIF orientation is applied, carrying a
    GPS block, a comment and an XMP packet."""
    picture = quadrants(shown)
    undo = UNDO[orientation]
    stored = picture.transpose(undo) if undo is not None else picture
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "TestCam"  # Make
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret place</x:xmpmeta>'
    return encoded(stored, "JPEG", quality=95, exif=exif, comment=b"taken at home", xmp=xmp)


def png_with_alpha() -> bytes:
    """Left half opaque red, right half fully transparent."""
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 100, 100))
    return encoded(image, "PNG")


def gif_two_frames() -> bytes:
    """Its first frame green, its second red."""
    first, second = Image.new("RGB", (120, 80), GREEN), Image.new("RGB", (120, 80), RED)
    return encoded(first, "GIF", save_all=True, append_images=[second], duration=100)


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height (its data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def metadata_of(image: Image.Image) -> dict[str, Any]:
    """Whatever metadata Pillow finds: EXIF (GPS included), ICC, XMP, comments, text."""
    found: dict[str, Any] = {key: value for key, value in image.info.items()
                             if key not in ("dpi", "jfif", "jfif_version", "jfif_unit",
                                            "jfif_density", "loop", "duration", "background",
                                            "lossless", "transparency", "progressive",
                                            "progression", "adobe", "adobe_transform", "timestamp")}
    if len(exif := image.getexif()):
        found["exif"] = dict(exif)
    return found
