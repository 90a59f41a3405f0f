"""The facts a person compares two photos by: dimensions, date taken and camera (EXIF).

Reading only parses the header (Pillow opens lazily), so it is cheap enough for a details
panel; a broken EXIF block yields ``None`` fields, never an exception. Only regular files
are opened, never blocking (``decoder.open_regular``): a named pipe is an error, not a hang.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PIL import Image

from .decoder import BANDED_PIXELS, FORMATS, DecodeError, open_regular

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132
_MAKE = 0x010F
_MODEL = 0x0110
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class PhotoInfo:
    path: str
    size: int | None = None
    width: int | None = None  # as displayed (EXIF orientation applied)
    height: int | None = None
    format: str | None = None
    date_taken: str | None = None  # "YYYY-MM-DD HH:MM:SS"
    make: str | None = None
    model: str | None = None
    error: str | None = None

    @property
    def camera(self) -> str | None:
        """Make and model without the make repeated ("Canon Canon EOS" -> "Canon EOS")."""
        make, model = (self.make or "").strip(), (self.model or "").strip()
        if make and model.lower().startswith(make.split()[0].lower()):
            return model
        return " ".join(x for x in (make, model) if x) or None


def _clean(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", "").strip()
    return text or None


def normalise_exif_date(value: object) -> str | None:
    """EXIF "YYYY:MM:DD HH:MM:SS" -> "YYYY-MM-DD HH:MM:SS"; None if it is not a date."""
    text = _clean(value)
    if not text or len(text) < 10:
        return None
    date = text[:10].replace(":", "-")
    parts = date.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or parts[0] in ("0000",):
        return None
    rest = text[10:].strip()
    return f"{date} {rest[:8]}" if rest else date


def _exif(img: Image.Image) -> Image.Exif | None:
    """The EXIF block if reading it does not mean decoding the picture: a PNG whose EXIF
    follows its pixels is read only if it is small."""
    if img.format == "PNG" and "exif" not in img.info and img.size[0] * img.size[1] > BANDED_PIXELS:
        return None
    return img.getexif()


def read_metadata(path: str) -> PhotoInfo:
    """Dimensions, date taken and camera of ``path``; fields it cannot read are None."""
    try:
        handle, st = open_regular(path)
    except DecodeError as exc:
        size = None
        try:
            size = os.stat(path).st_size
        except OSError:
            pass
        return PhotoInfo(path, size=size, error=exc.reason)
    size = st.st_size
    try:
        with handle, Image.open(handle, formats=FORMATS) as img:
            width, height = img.size
            fmt = img.format
            date = make = model = None
            try:
                exif = _exif(img)
                if exif is not None:
                    orientation = exif.get(_ORIENTATION)
                    if orientation in (5, 6, 7, 8):
                        width, height = height, width
                    make, model = _clean(exif.get(_MAKE)), _clean(exif.get(_MODEL))
                    try:
                        sub = exif.get_ifd(_EXIF_IFD)
                    except Exception:  # noqa: BLE001 - broken sub-IFD
                        sub = {}
                    date = (
                        normalise_exif_date(sub.get(_DATETIME_ORIGINAL))
                        or normalise_exif_date(sub.get(_DATETIME_DIGITIZED))
                        or normalise_exif_date(exif.get(_DATETIME))
                    )
            except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the photo
                pass
    except Exception as exc:  # noqa: BLE001 - unreadable or not an image
        return PhotoInfo(path, size=size, error=f"cannot read image header: {type(exc).__name__}")
    return PhotoInfo(path, size, width, height, fmt, date, make, model)
