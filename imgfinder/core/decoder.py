"""Decode any photo Pillow can read into the fixed-size RGB array the model wants.

Reading the bytes once gives both the content hash and the decode; JPEGs are decoded
at reduced scale with ``draft()`` (up to 8x faster on camera photos) because the model
only needs a few hundred pixels a side.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .layout import layout_signature, signature_to_bytes

# A 20,000 x 15,000 panorama is fine; anything bigger is refused rather than risk
# exhausting memory on a decompression bomb.
MAX_PIXELS = 300_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# EXIF orientations 5-8 swap width and height.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


class DecodeError(Exception):
    """A file could not be turned into pixels; ``reason`` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    """Model-ready pixels plus facts about the original file."""

    pixels: np.ndarray  # (size, size, 3) uint8
    width: int  # of the photo as displayed (after EXIF orientation)
    height: int
    content_hash: str
    layout: bytes | None = None  # grey layout signature for duplicate verification (core.layout)


def hash_bytes(data: bytes) -> str:
    """A fast content hash: identical bytes mean an exact copy."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DecodeError("file vanished before it could be read") from None
    except PermissionError:
        raise DecodeError("permission denied") from None
    except IsADirectoryError:
        raise DecodeError("is a folder, not a file") from None
    except OSError as exc:
        raise DecodeError(f"cannot read file: {exc.strerror or exc}") from None


def open_image(data: bytes, min_side: int | None = None) -> tuple[Image.Image, int, int]:
    """Open and orient an image; returns it with the full oriented width and height.

    With ``min_side``, JPEGs are decoded at the smallest scale that keeps both sides at
    least that large.
    """
    if not data:
        raise DecodeError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise DecodeError(f"image too large ({width}x{height} pixels)")
            orientation = _orientation(img)
            if orientation in _TRANSPOSED_ORIENTATIONS:
                width, height = height, width
            if min_side and img.format == "JPEG":
                scale = min(width, height) / min_side
                if scale >= 2:
                    img.draft("RGB", (max(1, int(img.size[0] / scale)), max(1, int(img.size[1] / scale))))
            img.load()
            if orientation and orientation != 1:
                img = ImageOps.exif_transpose(img)
    except DecodeError:
        raise
    except UnidentifiedImageError:
        raise DecodeError("not an image Pillow can read (unknown or corrupt format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DecodeError("image too large (decompression bomb guard)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc) or type(exc).__name__
        if "truncated" in message.lower():
            raise DecodeError("truncated file (incomplete image data)") from None
        raise DecodeError(f"corrupt image: {message}") from None
    except MemoryError:
        raise DecodeError("out of memory while decoding") from None
    return img, width, height


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block must not lose the photo
        return 1


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert every Pillow mode to 8-bit RGB, flattening transparency onto white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def decode_for_model(
    path: str, size: int, data: bytes | None = None, content_hash: str | None = None
) -> DecodedImage:
    """Read ``path`` once and return ``size`` x ``size`` RGB pixels plus hash and dimensions.

    The whole photo is squeezed to a square (no crop) so nothing in it is lost to the
    model; aspect changes are rare between copies and the model is trained with them.
    Pass ``data`` (and its ``content_hash``) when the caller already read (and hashed)
    the file: hashing a 12 MP JPEG again costs ~3 ms, a tenth of its reduced-size decode.
    """
    if data is None:
        data = read_file(path)
    if content_hash is None:
        content_hash = hash_bytes(data)
    img, width, height = open_image(data, min_side=size)
    try:
        pixels = square_pixels(img, size)
    except (OSError, ValueError) as exc:
        raise DecodeError(f"corrupt image: {exc}") from None
    layout = signature_to_bytes(layout_signature(pixels))
    return DecodedImage(pixels=pixels, width=width, height=height, content_hash=content_hash, layout=layout)


def square_pixels(img: Image.Image, size: int) -> np.ndarray:
    """The model's input: the whole picture squeezed to ``size`` x ``size`` RGB uint8."""
    rgb = to_rgb(img)
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(rgb, dtype=np.uint8)

