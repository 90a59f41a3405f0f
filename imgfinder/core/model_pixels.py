"""The pixels the model sees: RGB, reduced in bands so a huge picture never needs its full
size in memory, squared for the network, a flat frame (border, letterbox) cut away first."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .layout import frame_fractions

# Images with more pixels than this are converted to RGB and reduced band by band.
BANDED_PIXELS = 16_000_000


BAND_BYTES = 8 << 20


# EXIF orientations 5-8 swap width and height.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


_ORIENT_METHOD = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _oriented(img: Image.Image, orientation: int) -> Image.Image:
    if orientation and orientation != 1:
        return img.transpose(_ORIENT_METHOD[orientation])
    return img


def chroma(pixels: np.ndarray) -> float:
    """Mean over the pixels of (largest - smallest RGB channel): 0 for a greyscale picture,
    1-2 for one saved as a colour JPEG (chroma rounding), tens for a colour photo. Stored
    per photo so the duplicate search can tell a greyscale copy of a colour photo."""
    p = np.asarray(pixels)
    return float((p.max(axis=-1).astype(np.int16) - p.min(axis=-1)).mean())


def to_rgb(img: Image.Image, extrema: tuple[float, float] | None = None) -> Image.Image:
    """Convert every Pillow mode to 8-bit RGB, flattening transparency onto white.

    16- and 32-bit greys are stretched from their (``extrema`` or own) darkest to
    lightest value.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = extrema if extrema is not None else (float(arr.min()), float(arr.max()))
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L").convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _extrema(img: Image.Image) -> tuple[float, float] | None:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        lo, hi = img.getextrema()  # type: ignore[misc]
        return float(lo), float(hi)
    return None


# For each EXIF orientation, which stored axes run backwards once shown (x, y): reducing
# before orienting must start its blocks at that end to match reducing after.
_REVERSED_AXES = {1: (False, False), 2: (True, False), 3: (True, True), 4: (False, True),
                  5: (False, False), 6: (False, True), 7: (True, True), 8: (True, False)}


def _reduce_in_bands(img: Image.Image, factors: tuple[int, int], orientation: int = 1) -> Image.Image:
    """``to_rgb(img).reduce(factors)`` a band of rows at a time: the full-size RGB copy
    (4 bytes a pixel, plus RGBA for palettes) is never made. Bands are whole multiples of
    the vertical factor, so the result is the same as reducing the whole picture; with an
    ``orientation``, blocks start at the edge that will be shown first, so orienting the
    result gives the same pixels as reducing the oriented picture."""
    fx, fy = factors
    width, height = img.size
    back_x, back_y = _REVERSED_AXES.get(orientation, (False, False))
    lead_x = width % fx if back_x else 0  # a partial block first instead of last
    lead_y = height % fy if back_y else 0
    out = Image.new("RGB", (math.ceil(width / fx), math.ceil(height / fy)))
    rows = max(fy, (BAND_BYTES // (8 * width)) // fy * fy)
    extrema = _extrema(img)
    edges = ([0] if lead_y else []) + list(range(lead_y, height, rows))
    for n, top in enumerate(edges):
        bottom = edges[n + 1] if n + 1 < len(edges) else height
        band = to_rgb(img.crop((0, top, width, bottom)), extrema)
        y = 0 if top == 0 else (lead_y > 0) + (top - lead_y) // fy
        if (fx, fy) == (1, 1):
            out.paste(band, (0, y))
            continue
        if lead_x:
            out.paste(band.reduce((fx, fy), box=(0, 0, lead_x, band.height)), (0, y))
        out.paste(band.reduce((fx, fy), box=(lead_x, 0, width, band.height)), (1 if lead_x else 0, y))
    return out


def model_pixels(img: Image.Image, size: int, orientation: int = 1) -> np.ndarray:
    """``square_pixels`` of the (loaded, not yet oriented) ``img`` shown with ``orientation``.

    A large image is reduced in bands first, by the factors ``Image.resize`` would use,
    and oriented after reducing, so no full-size copy is made for either; the pixels are
    the same as ``square_pixels`` of the oriented image.
    """
    width, height = img.size
    if width * height <= BANDED_PIXELS:
        return square_pixels(_oriented(img, orientation), size)
    shown = (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
    fx = int(shown[0] / size / 2.0) or 1  # Image.resize's factors for reducing_gap=2.0
    fy = int(shown[1] / size / 2.0) or 1
    raw = (fy, fx) if orientation in _TRANSPOSED_ORIENTATIONS else (fx, fy)
    reduced = _oriented(_reduce_in_bands(img, raw, orientation), orientation)
    box = (0.0, 0.0, shown[0] / fx, shown[1] / fy)
    if reduced.size == (size, size) and box == (0, 0, size, size):
        pixels = np.asarray(reduced, dtype=np.uint8)
    else:
        pixels = np.asarray(reduced.resize((size, size), Image.Resampling.BILINEAR, box=box), dtype=np.uint8)
    return without_frame(pixels, reduced, box, size)


# Names how photos become the model's input, for the descriptor's id (``feature_id``):
# a catalog described with other preprocessing is described again. "noframe": the
# picture inside a uniform frame (``without_frame``).
PREPROCESSING_ID = "noframe"


def square_pixels(img: Image.Image, size: int) -> np.ndarray:
    """The model's input: the whole picture squeezed to ``size`` x ``size`` RGB uint8, or
    the picture inside its frame when it has one (``without_frame``)."""
    rgb = to_rgb(img)
    pixels = rgb if rgb.size == (size, size) else rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    pixels = np.asarray(pixels, dtype=np.uint8)
    return without_frame(pixels, rgb, (0.0, 0.0, float(rgb.width), float(rgb.height)), size)


def without_frame(
    pixels: np.ndarray, source: Image.Image, box: tuple[float, float, float, float], size: int,
) -> np.ndarray:
    """``pixels`` (``box`` of ``source`` squeezed to ``size``), squeezed again from the
    picture inside the frame when ``pixels`` show one (a border added around a copy,
    letterboxing: ``layout.frame_fractions``).

    Why: a 10 % white border moved a copy's vector as far from its original as a
    different photo (copy-vector cosine 0.80 on held-out photos) and the frame's edge is
    no detail of the picture. Photos without a frame (nearly all) get the same pixels.
    """
    frame = frame_fractions(pixels)
    if frame is None:
        return pixels
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    inner = (x0 + frame[0] * w, y0 + frame[1] * h, x0 + frame[2] * w, y0 + frame[3] * h)
    if inner[2] - inner[0] < 1 or inner[3] - inner[1] < 1:
        return pixels
    return np.asarray(source.resize((size, size), Image.Resampling.BILINEAR, box=inner, reducing_gap=2.0), dtype=np.uint8)
