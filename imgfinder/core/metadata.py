"""The facts a person compares two photos by: dimensions, date taken, camera, lens,
exposure and place (EXIF).

Reading only parses the header (Pillow opens lazily), so it is cheap enough for a details
panel and for the indexer, which reads the same facts from the image it has already opened
(``image_info``) and stores them in the catalog. A broken EXIF value yields ``None`` for
that field, never an exception. Only regular files are opened, never blocking
(``decoder.open_regular``): a named pipe is an error, not a hang.
"""

from __future__ import annotations

import math
import os
import re

from PIL import Image

from .decoder import DecodeError, identify, open_regular
from .photo_info import EXIF_FIELDS, PhotoInfo

__all__ = ["EXIF_FIELDS", "PhotoInfo", "image_info", "normalise_exif_date", "read_metadata"]

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132
# Sub-second digits and UTC offsets of the three dates, in the order of the dates above.
_SUBSEC = {_DATETIME_ORIGINAL: 0x9291, _DATETIME_DIGITIZED: 0x9292, _DATETIME: 0x9290}
_OFFSET = {_DATETIME_ORIGINAL: 0x9011, _DATETIME_DIGITIZED: 0x9012, _DATETIME: 0x9010}
_MAKE = 0x010F
_MODEL = 0x0110
_ORIENTATION = 0x0112
_EXPOSURE_TIME = 0x829A
_F_NUMBER = 0x829D
_ISO = 0x8827  # PhotographicSensitivity (ISOSpeedRatings before EXIF 2.3)
_FOCAL_LENGTH = 0x920A
_LENS_MAKE = 0xA433
_LENS_MODEL = 0xA434
_GPS_LATITUDE_REF, _GPS_LATITUDE = 1, 2
_GPS_LONGITUDE_REF, _GPS_LONGITUDE = 3, 4
_GPS_ALTITUDE_REF, _GPS_ALTITUDE = 5, 6

_OFFSET_RE = re.compile(r"[+-]\d\d:\d\d")


def _clean(value: object) -> str | None:
    """An EXIF text: up to its first NUL (the format's terminator), trimmed; None if empty."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = value.split("\x00", 1)[0].strip()
    if not text.isprintable():
        text = "".join(ch for ch in text if ch.isprintable()).strip()
    return text[:200] or None


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


def _number(value: object) -> float | None:
    """A finite number from an EXIF rational, integer or float (a 0/0 rational is None)."""
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        value = value[0] / value[1] if value[1] else None  # (numerator, denominator)
    if value is None or isinstance(value, (str, bytes, bool, tuple)):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: object, upper: float) -> float | None:
    number = _number(value)
    return number if number is not None and 0 < number < upper else None


def _iso(value: object) -> int | None:
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    number = _number(value)
    return int(number) if number is not None and 1 <= number <= 10_000_000 else None


def _degrees(value: object, ref: object, positive: str, negative: str, limit: float) -> float | None:
    """Signed decimal degrees from EXIF (degrees, minutes, seconds; or decimal degrees
    alone) and its N/S or E/W ref."""
    if not isinstance(value, tuple):
        value = (value,)
    if not 1 <= len(value) <= 3:
        return None
    parts = [_number(v) for v in value]
    if any(p is None or p < 0 for p in parts):
        return None
    degrees = sum(p / 60**n for n, p in enumerate(parts))  # type: ignore[operator]
    side = (_clean(ref) or positive).upper()[:1]
    if side not in (positive, negative) or degrees > limit:
        return None
    return -degrees if side == negative else degrees


def _gps(gps: dict) -> tuple[float | None, float | None, float | None]:
    lat = _degrees(gps.get(_GPS_LATITUDE), gps.get(_GPS_LATITUDE_REF), "N", "S", 90)
    lon = _degrees(gps.get(_GPS_LONGITUDE), gps.get(_GPS_LONGITUDE_REF), "E", "W", 180)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None, None, None  # 0, 0: a camera that had no fix writes zeros
    altitude = _number(gps.get(_GPS_ALTITUDE))
    if altitude is not None:
        below = gps.get(_GPS_ALTITUDE_REF)
        if isinstance(below, bytes):
            below = below[:1] == b"\x01"
        altitude = -altitude if below in (1, True) else altitude
        if not -12_000 <= altitude <= 100_000:
            altitude = None
    return lat, lon, altitude


def _sub_ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # noqa: BLE001 - broken sub-IFD
        return {}


def _guarded(read, default=None):  # noqa: ANN001, ANN202
    """One field's value, or ``default`` if its bytes are broken."""
    try:
        return read()
    except Exception:  # noqa: BLE001 - one broken value must not lose the others
        return default


_PNG_MAX_CHUNKS = 1_000_000
_EXIF_MAX_BYTES = 4 << 20


def _png_exif_after_pixels(img: Image.Image) -> bytes | None:
    """The eXIf chunk of a PNG that stores it after its pixels, found by walking the chunk
    headers and seeking over their data: Pillow would decode the whole picture for it."""
    fp = getattr(img, "fp", None)
    if fp is None:
        return None
    position = fp.tell()
    try:
        fp.seek(8)  # past the signature
        for _ in range(_PNG_MAX_CHUNKS):
            head = fp.read(8)
            if len(head) < 8:
                return None
            length, kind = int.from_bytes(head[:4], "big"), head[4:]
            if kind == b"eXIf":
                data = fp.read(length) if length <= _EXIF_MAX_BYTES else b""
                return data if data and len(data) == length else None
            if kind == b"IEND":
                return None
            fp.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
        return None
    finally:
        fp.seek(position)


def _exif(img: Image.Image) -> Image.Exif | None:
    """The EXIF block, read without decoding the picture (Pillow decodes a PNG whose EXIF
    follows its pixels to read it: here its chunks are walked instead)."""
    if img.format == "PNG" and "exif" not in img.info:
        data = _png_exif_after_pixels(img)
        if data is None:
            return None
        exif = Image.Exif()
        exif.load(data if data.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + data)
        return exif
    return img.getexif()


def _exif_facts(exif: Image.Exif) -> dict:
    """The EXIF fields of ``PhotoInfo`` found in ``exif`` (each None when broken)."""
    sub = _sub_ifd(exif, _EXIF_IFD)
    facts: dict = {
        "make": _guarded(lambda: _clean(exif.get(_MAKE))),
        "model": _guarded(lambda: _clean(exif.get(_MODEL))),
    }
    for tag, ifd in ((_DATETIME_ORIGINAL, sub), (_DATETIME_DIGITIZED, sub), (_DATETIME, exif)):
        date = _guarded(lambda: normalise_exif_date(ifd.get(tag)))  # noqa: B023 - called at once
        if date:
            subsec = _guarded(lambda: _clean(sub.get(_SUBSEC[tag])))  # noqa: B023
            offset = _guarded(lambda: _clean(sub.get(_OFFSET[tag])))  # noqa: B023
            facts["date_taken"] = date
            facts["date_subsec"] = subsec if subsec and subsec.isdigit() else None
            facts["date_offset"] = offset if offset and _OFFSET_RE.fullmatch(offset) else None
            break
    facts["lens_make"] = _guarded(lambda: _clean(sub.get(_LENS_MAKE)))
    facts["lens_model"] = _guarded(lambda: _clean(sub.get(_LENS_MODEL)))
    facts["exposure_time"] = _guarded(lambda: _positive(sub.get(_EXPOSURE_TIME), 100_000))
    facts["f_number"] = _guarded(lambda: _positive(sub.get(_F_NUMBER), 1_000))
    facts["iso"] = _guarded(lambda: _iso(sub.get(_ISO)))
    facts["focal_length"] = _guarded(lambda: _positive(sub.get(_FOCAL_LENGTH), 100_000))
    gps = _sub_ifd(exif, _GPS_IFD)
    if gps:
        facts["latitude"], facts["longitude"], facts["altitude"] = _guarded(lambda: _gps(gps), (None, None, None))
    return facts


def image_info(img: Image.Image, path: str, size: int | None = None) -> PhotoInfo:
    """The facts of an image already opened (its header parsed, its pixels not decoded):
    what ``read_metadata`` reads, for the indexer, which has the file open anyway.
    Never raises: what cannot be read is None."""
    width, height = getattr(img, "size", (None, None))
    facts: dict = {}
    try:
        exif = _exif(img)
        if exif is not None:
            if exif.get(_ORIENTATION) in (5, 6, 7, 8):
                width, height = height, width
            facts = _exif_facts(exif)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the photo
        pass
    return PhotoInfo(path, size, width, height, getattr(img, "format", None), **facts)


def read_metadata(path: str) -> PhotoInfo:
    """Dimensions, date taken, camera, lens, exposure and place of ``path``; fields it
    cannot read are None."""
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
        with handle, identify(handle, path) as img:  # every format of core.formats
            return image_info(img, path, size)
    except DecodeError as exc:  # not an image, or its format's reader is not installed
        return PhotoInfo(path, size=size, error=exc.reason)
    except Exception as exc:  # noqa: BLE001 - unreadable or not an image
        return PhotoInfo(path, size=size, error=f"cannot read image header: {type(exc).__name__}")
