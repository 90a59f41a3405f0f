"""Photo edits that make near-duplicate copies: the benchmark's named Copydays-style
edits and the random edit chains the Siamese network is trained on.

One module for both, so the model is trained on the same kinds of change it is
measured on, and the benchmark's edits are defined exactly once.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

Edit = Callable[[Image.Image], Image.Image]


def rescale(img: Image.Image, factor: float) -> Image.Image:
    w, h = img.size
    return img.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.LANCZOS)


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def crop_area(img: Image.Image, area: float, cx: float = 0.5, cy: float = 0.5) -> Image.Image:
    """Crop to ``area`` of the original area (same aspect), centred at (cx, cy) in [0, 1]."""
    w, h = img.size
    side = area**0.5
    cw, ch = max(1, round(w * side)), max(1, round(h * side))
    left = round((w - cw) * cx)
    top = round((h - ch) * cy)
    return img.crop((left, top, left + cw, top + ch))


def rotate(img: Image.Image, degrees: int) -> Image.Image:
    return img.rotate(degrees, expand=True)


def brightness(img: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(img).enhance(factor)


def contrast(img: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Contrast(img).enhance(factor)


def saturation(img: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Color(img).enhance(factor)


def blur(img: Image.Image, radius_fraction: float = 0.004) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(max(1.0, radius_fraction * max(img.size))))


def greyscale(img: Image.Image) -> Image.Image:
    return ImageOps.grayscale(img).convert("RGB")


def watermark(img: Image.Image, text: str = "© imgfinder 2026", corner: str = "br") -> Image.Image:
    """A small semi-transparent text in a corner, like a photographer's mark."""
    out = img.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(10, out.size[1] // 25)
    try:
        from PIL import ImageFont

        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        font = None
    box = draw.textbbox((0, 0), text, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    margin = size
    x = out.size[0] - tw - margin if "r" in corner else margin
    y = out.size[1] - th - margin if "b" in corner else margin
    draw.text((x, y), text, fill=(255, 255, 255, 170), font=font)
    return Image.alpha_composite(out, layer).convert("RGB")


def pad(img: Image.Image, fraction: float = 0.10, colour: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    w, h = img.size
    bx, by = round(w * fraction), round(h * fraction)
    return ImageOps.expand(img.convert("RGB"), border=(bx, by, bx, by), fill=colour)


# The benchmark's edits: name -> edit. Each makes one copy of an original.
BENCHMARK_EDITS: dict[str, Edit] = {
    "rescale50": lambda im: rescale(im, 0.5),
    "rescale25": lambda im: rescale(im, 0.25),
    "jpeg75": lambda im: jpeg(im, 75),
    "jpeg50": lambda im: jpeg(im, 50),
    "jpeg30": lambda im: jpeg(im, 30),
    "crop80": lambda im: crop_area(im, 0.80),
    "crop60": lambda im: crop_area(im, 0.60),
    "mirror": ImageOps.mirror,
    "rot90": lambda im: rotate(im, 90),
    "rot180": lambda im: rotate(im, 180),
    "rot270": lambda im: rotate(im, 270),
    "grey": greyscale,
    "bright+30": lambda im: brightness(im, 1.3),
    "contrast-30": lambda im: contrast(im, 0.7),
    "blur": blur,
    "watermark": watermark,
    "pad10": lambda im: pad(im, 0.10),
}


def random_edit_chain(img: Image.Image, rng: random.Random) -> Image.Image:
    """A random combination of the edits above, with wider ranges than the benchmark,
    so the network learns the invariances rather than the benchmark's exact settings."""
    out = img.convert("RGB")
    if rng.random() < 0.6:
        out = crop_area(out, rng.uniform(0.5, 1.0), rng.random(), rng.random())
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    if rng.random() < 0.5:
        out = rotate(out, rng.choice([90, 180, 270]))
    if rng.random() < 0.15:
        out = greyscale(out)
    if rng.random() < 0.5:
        out = brightness(out, rng.uniform(0.6, 1.45))
    if rng.random() < 0.5:
        out = contrast(out, rng.uniform(0.6, 1.4))
    if rng.random() < 0.3:
        out = saturation(out, rng.uniform(0.5, 1.5))
    if rng.random() < 0.2:
        out = blur(out, rng.uniform(0.002, 0.008))
    if rng.random() < 0.2:
        out = watermark(out, rng.choice(["© photo", "sample", "imgfinder 2026", "IMG_0042"]), rng.choice(["br", "bl", "tr", "tl"]))
    if rng.random() < 0.2:
        out = pad(out, rng.uniform(0.03, 0.15), rng.choice([(255, 255, 255), (0, 0, 0), (128, 128, 128)]))
    if rng.random() < 0.5:
        out = rescale(out, rng.uniform(0.15, 0.8))
    if rng.random() < 0.6:
        out = jpeg(out, rng.randint(20, 95))
    return out
