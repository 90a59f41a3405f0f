"""Synthetic photos for the group-kind tests: a street-like scene (smooth sky, fine texture,
buildings, people as coloured discs) as two *shots* of one moment (the people moved, the
camera shook a few pixels, new sensor noise) or as an *edited copy* (resized, JPEG), with
an EXIF DateTimeOriginal written by Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# People: (x, y, radius, colour) in the first shot; the second shot moves each a little.
PEOPLE = [(100, 250, 25, (220, 30, 30)), (300, 220, 20, (30, 30, 220)), (400, 280, 30, (240, 240, 40)),
          (200, 150, 15, (250, 250, 250))]
MOVED = [(112, 248, 25, (220, 30, 30)), (288, 222, 20, (30, 30, 220)), (385, 276, 30, (240, 240, 40)),
         (212, 156, 15, (250, 250, 250))]


def scene(seed: int, people=PEOPLE, noise: int = 1, shift: tuple[int, int] = (0, 0),
          size: tuple[int, int] = (480, 360)) -> Image.Image:
    """One exposure of scene ``seed``: ``people`` where they stand, sensor noise ``noise``,
    the camera moved by ``shift`` pixels."""
    rng = np.random.default_rng(seed)
    w, h = size

    def layer(cells: int, amount: float) -> np.ndarray:
        grid = rng.normal(0, 1, (h // cells + 6, w // cells + 6, 3))
        img = Image.fromarray(np.uint8(np.clip(128 + 50 * grid, 0, 255))).resize((w + 32, h + 32), Image.BICUBIC)
        return (np.asarray(img).astype(np.float32) - 128) * amount

    sky = 128 + layer(40, 1.0) + layer(6, 0.5)
    bg = Image.fromarray(np.uint8(np.clip(sky, 0, 255)))
    bg = bg.crop((16 + shift[0], 16 + shift[1], 16 + shift[0] + w, 16 + shift[1] + h))
    draw = ImageDraw.Draw(bg)
    draw.rectangle((0, int(h * 0.62) - shift[1], w, h), fill=(90, 120, 60))
    for i, x in enumerate(range(20, w, 70)):
        top = int(h * 0.3) + (i * 17 + seed * 13) % 50
        draw.rectangle((x - shift[0], top - shift[1], x + 40 - shift[0], int(h * 0.62) - shift[1]),
                       fill=(150 + (i * 10 + seed * 37) % 80, 100, 90 + (seed * 29) % 100))
    for x, y, r, colour in people:
        draw.ellipse((x - r - shift[0], y - r - shift[1], x + r - shift[0], y + r - shift[1]), fill=colour)
    pixels = np.asarray(bg).astype(np.float32) + np.random.default_rng(1000 + noise).normal(0, 6, (h, w, 3))
    return Image.fromarray(np.uint8(np.clip(pixels, 0, 255)))


def save(img: Image.Image, path: Path, taken: str | None = None, quality: int = 92) -> Path:
    """Save as JPEG with EXIF DateTimeOriginal ``taken`` ("YYYY:MM:DD HH:MM:SS") if given."""
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=quality, exif=exif)
    return path


def edited_copy(img: Image.Image) -> Image.Image:
    """Resized to 60%: saved at a lower JPEG quality, this is an edited copy."""
    return img.resize((img.width * 6 // 10, img.height * 6 // 10), Image.Resampling.LANCZOS)


def burst_library(folder: Path) -> dict[str, Path]:
    """A folder with every case, named by what it is:

    * scene 1: ``s1_shot1`` and ``s1_shot2`` a second apart, ``s1_copy`` an edited copy of
      shot 1 (same date): the copy and shot 1 are copies; shot 2 is in no group;
    * scene 2: a burst of three (``s2_shot1..3``, one second apart): a shots group;
    * scene 3: a still burst on a tripod (only sensor noise differs), two seconds apart:
      its detail lines up like a copy's, the camera says two exposures: shots;
    * scene 4: the same two shots without EXIF: no evidence of one moment: no group;
    * scene 5: two shots ten minutes apart: only similar: no group;
    * scene 6: ``s6_photo`` and ``s6_exact`` with the same bytes: exact.
    """
    files: dict[str, Path] = {}

    def put(name: str, img: Image.Image, taken: str | None, quality: int = 92) -> None:
        files[name] = save(img, folder / f"{name}.jpg", taken, quality)

    day = "2024:05:01"
    put("s1_shot1", scene(1), f"{day} 10:00:00")
    put("s1_shot2", scene(1, MOVED, noise=2, shift=(5, 3)), f"{day} 10:00:01")
    put("s1_copy", edited_copy(scene(1)), f"{day} 10:00:00", quality=60)
    for k, (people, shift) in enumerate([(PEOPLE, (0, 0)), (MOVED, (3, 2)), (PEOPLE[::-1][:3], (-2, 1))]):
        put(f"s2_shot{k + 1}", scene(2, people, noise=10 + k, shift=shift), f"{day} 11:00:0{k}")
    put("s3_shot1", scene(3, noise=20), f"{day} 12:00:00")
    put("s3_shot2", scene(3, noise=21), f"{day} 12:00:02")
    put("s4_shot1", scene(4), None)
    put("s4_shot2", scene(4, MOVED, noise=2, shift=(5, 3)), None)
    put("s5_shot1", scene(5), f"{day} 13:00:00")
    put("s5_shot2", scene(5, MOVED, noise=2, shift=(5, 3)), f"{day} 13:10:00")
    put("s6_photo", scene(6), f"{day} 14:00:00")
    files["s6_exact"] = folder / "s6_exact.jpg"
    files["s6_exact"].write_bytes(files["s6_photo"].read_bytes())
    return files
