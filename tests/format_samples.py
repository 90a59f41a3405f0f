"""Photos in every format the app reads, made in the test from an RGB picture.

HEIC is written by pillow-heif, AVIF by Pillow, JPEG XL by pillow-jxl-plugin and
multi-page TIFF by Pillow. No library writes camera RAW files, so ``write_dng`` builds a
small DNG by hand (a TIFF with the DNG tags: an uncompressed 16-bit Bayer mosaic, a colour
matrix that makes the camera's colours sRGB's, an EXIF block and optionally the camera's
JPEG preview), which LibRaw (rawpy) reads like a camera's.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

CAMERA_TAKEN = "2023:07:14 18:42:07"


def camera_jpeg(
    src: Path, dst: Path, model: str = "X-T3", gps: bool = True, taken: str = CAMERA_TAKEN,
    lens_make: str | None = None, altitude: float | None = None, side: int = 200,
) -> Path:
    """A small JPEG copy of ``src`` carrying a camera's EXIF: date (with its UTC offset),
    camera, lens, exposure and, with ``gps``, a place in Paris (and ``altitude``)."""
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "FUJIFILM", model
    sub = exif.get_ifd(0x8769)
    sub[0x9003], sub[0x9011] = taken, "+02:00"
    if lens_make is not None:
        sub[0xA433] = lens_make
    sub[0xA434] = "XF35mmF1.4 R"
    sub[0x829A], sub[0x829D], sub[0x8827], sub[0x920A] = IFDRational(1, 250), IFDRational(28, 10), 400, 35.0
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2], g[3], g[4] = "N", (48.0, 51.0, 30.24), "E", (2.0, 17.0, 40.2)
        if altitude is not None:
            g[5], g[6] = 0, altitude
    with Image.open(src) as img:
        img = img.convert("RGB")
        img.thumbnail((side, side))
        dst.parent.mkdir(parents=True, exist_ok=True)
        img.save(dst, quality=85, exif=exif)
    return dst


# TIFF field types: BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL.
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _UNDEFINED, _SRATIONAL = 1, 2, 3, 4, 5, 7, 10
_TYPE_SIZE = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _UNDEFINED: 1, _SRATIONAL: 8}
# XYZ (D65) to linear sRGB: the "camera" of these DNGs sees linear sRGB.
_XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))
WHITE = 65535


def exif_bytes(date: str = "2024:05:06 07:08:09", make: str = "Testmaker", model: str = "Cam 1",
               orientation: int | None = None) -> bytes:
    """An EXIF block with a date taken, a camera and optionally an orientation."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    if orientation is not None:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = date
    return exif.tobytes()


class _Ifd:
    """One TIFF directory being built: entries, then their out-of-line values."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[int, list | bytes]] = {}

    def add(self, tag: int, kind: int, values: list | bytes | str) -> None:
        if isinstance(values, str):
            values = values.encode() + b"\x00"
        self.entries[tag] = (kind, values)

    def size(self) -> int:
        return 2 + 12 * len(self.entries) + 4 + sum(
            _pad(len(self._pack(k, v))) for k, v in self.entries.values() if len(self._pack(k, v)) > 4
        )

    @staticmethod
    def _pack(kind: int, values: list | bytes) -> bytes:
        if kind in (_BYTE, _ASCII, _UNDEFINED):
            return bytes(values)
        if kind == _SHORT:
            return struct.pack(f"<{len(values)}H", *values)
        if kind == _LONG:
            return struct.pack(f"<{len(values)}I", *values)
        code = "I" if kind == _RATIONAL else "i"
        out = b""
        for v in values:
            num, den = (v if isinstance(v, tuple) else (round(v * 10000), 10000))
            out += struct.pack(f"<{code}{code}", num, den)
        return out

    def write(self, offset: int) -> bytes:
        """The directory at ``offset``, its long values right after it."""
        head = struct.pack("<H", len(self.entries))
        extra = b""
        extra_at = offset + 2 + 12 * len(self.entries) + 4
        for tag in sorted(self.entries):
            kind, values = self.entries[tag]
            data = self._pack(kind, values)
            count = len(data) // _TYPE_SIZE[kind]
            if len(data) <= 4:
                head += struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\x00")
            else:
                head += struct.pack("<HHII", tag, kind, count, extra_at + len(extra))
                extra += data + b"\x00" * (_pad(len(data)) - len(data))
        return head + b"\x00\x00\x00\x00" + extra


def _pad(n: int) -> int:
    return n + (n & 1)


def _mosaic(rgb: Image.Image) -> np.ndarray:
    """The RGGB Bayer mosaic a camera seeing linear sRGB would record (16 bits)."""
    arr = np.asarray(rgb.convert("RGB"), dtype=np.float64) / 255.0
    linear = np.where(arr <= 0.04045, arr / 12.92, ((arr + 0.055) / 1.055) ** 2.4)
    h, w = linear.shape[:2]
    out = np.empty((h, w), dtype=np.float64)
    out[0::2, 0::2] = linear[0::2, 0::2, 0]
    out[0::2, 1::2] = linear[0::2, 1::2, 1]
    out[1::2, 0::2] = linear[1::2, 0::2, 1]
    out[1::2, 1::2] = linear[1::2, 1::2, 2]
    return np.clip(out * WHITE, 0, WHITE).astype("<u2")


def write_dng(
    path: Path, rgb: Image.Image, preview: Image.Image | None = None, orientation: int = 1,
    date: str = "2024:05:06 07:08:09", make: str = "Testmaker", model: str = "Cam 1",
    corrupt: bool = False,
) -> Path:
    """A DNG of ``rgb`` (even width and height): IFD0 holds the JPEG ``preview`` (when
    given) with the raw mosaic in a SubIFD, or the raw mosaic itself; ``orientation`` is
    the EXIF orientation the camera recorded. ``corrupt`` cuts the raw data short."""
    width, height = rgb.size
    assert width % 2 == 0 and height % 2 == 0, "a Bayer mosaic needs even sides"
    raw = _mosaic(rgb).tobytes()
    jpeg = b""
    if preview is not None:
        buf = io.BytesIO()
        preview.convert("RGB").save(buf, "JPEG", quality=92)
        jpeg = buf.getvalue()

    def raw_tags(ifd: _Ifd) -> None:
        ifd.add(0x00FE, _LONG, [0])  # NewSubFileType: the main image
        ifd.add(0x0100, _LONG, [width])
        ifd.add(0x0101, _LONG, [height])
        ifd.add(0x0102, _SHORT, [16])
        ifd.add(0x0103, _SHORT, [1])  # uncompressed
        ifd.add(0x0106, _SHORT, [32803])  # CFA
        ifd.add(0x0111, _LONG, [0])  # StripOffsets, set below
        ifd.add(0x0115, _SHORT, [1])
        ifd.add(0x0116, _LONG, [height])
        ifd.add(0x0117, _LONG, [len(raw)])
        ifd.add(0x011C, _SHORT, [1])
        ifd.add(0x828D, _SHORT, [2, 2])  # CFARepeatPatternDim
        ifd.add(0x828E, _BYTE, [0, 1, 1, 2])  # CFAPattern: RGGB
        ifd.add(0xC61A, _LONG, [0])  # BlackLevel
        ifd.add(0xC61D, _LONG, [WHITE])  # WhiteLevel

    def main_tags(ifd: _Ifd) -> None:
        ifd.add(0x010F, _ASCII, make)
        ifd.add(0x0110, _ASCII, model)
        ifd.add(0x0112, _SHORT, [orientation])
        ifd.add(0x8769, _LONG, [0])  # ExifIFD, set below
        ifd.add(0xC612, _BYTE, [1, 4, 0, 0])  # DNGVersion
        ifd.add(0xC613, _BYTE, [1, 1, 0, 0])  # DNGBackwardVersion
        ifd.add(0xC614, _ASCII, f"{make} {model}")  # UniqueCameraModel
        ifd.add(0xC621, _SRATIONAL, [v for row in _XYZ_TO_SRGB for v in row])  # ColorMatrix1
        ifd.add(0xC628, _RATIONAL, [(1, 1)] * 3)  # AsShotNeutral
        ifd.add(0xC65A, _SHORT, [21])  # CalibrationIlluminant1: D65

    exif_ifd = _Ifd()
    exif_ifd.add(0x9003, _ASCII, date)  # DateTimeOriginal
    exif_ifd.add(0x829A, _RATIONAL, [(1, 125)])  # ExposureTime
    exif_ifd.add(0x829D, _RATIONAL, [(28, 10)])  # FNumber
    exif_ifd.add(0x8827, _SHORT, [200])  # ISO
    if preview is not None:
        ifd0, raw_ifd = _Ifd(), _Ifd()
        ifd0.add(0x00FE, _LONG, [1])  # a reduced-resolution copy (the preview)
        ifd0.add(0x0100, _LONG, [preview.width])
        ifd0.add(0x0101, _LONG, [preview.height])
        ifd0.add(0x0102, _SHORT, [8, 8, 8])
        ifd0.add(0x0103, _SHORT, [7])  # JPEG
        ifd0.add(0x0106, _SHORT, [6])  # YCbCr
        ifd0.add(0x0111, _LONG, [0])
        ifd0.add(0x0115, _SHORT, [3])
        ifd0.add(0x0116, _LONG, [preview.height])
        ifd0.add(0x0117, _LONG, [len(jpeg)])
        ifd0.add(0x011C, _SHORT, [1])
        ifd0.add(0x014A, _LONG, [0])  # SubIFDs: the raw image, set below
        main_tags(ifd0)
        raw_tags(raw_ifd)
        ifds = [ifd0, raw_ifd]
    else:
        ifd0 = _Ifd()
        raw_tags(ifd0)
        main_tags(ifd0)
        ifds = [ifd0]
    # Lay out: header, IFDs, EXIF IFD, then the preview and raw data (sizes fixed first).
    offsets = [8]
    for ifd in ifds:
        offsets.append(offsets[-1] + _pad(ifd.size()))
    exif_at = offsets.pop()
    data_at = exif_at + _pad(exif_ifd.size())
    raw_at = data_at + _pad(len(jpeg))
    ifd0.add(0x8769, _LONG, [exif_at])
    if preview is not None:
        ifd0.add(0x0111, _LONG, [data_at])
        ifd0.add(0x014A, _LONG, [offsets[1]])
        ifds[1].add(0x0111, _LONG, [raw_at])
    else:
        ifd0.add(0x0111, _LONG, [raw_at])
    out = b"II*\x00" + struct.pack("<I", 8)
    for ifd, at in zip(ifds, offsets):
        out += ifd.write(at).ljust(_pad(ifd.size()), b"\x00")
    out += exif_ifd.write(exif_at).ljust(_pad(exif_ifd.size()), b"\x00")
    out += jpeg.ljust(_pad(len(jpeg)), b"\x00")
    assert len(out) == raw_at
    out += raw[: len(raw) // 50] if corrupt else raw
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out)
    return path


def picture(n: int = 0, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A real photo (tests/photos) at ``size``: photo ``n`` of the committed ones."""
    photos = sorted((Path(__file__).resolve().parent / "photos").glob("*.jpg"))
    with Image.open(photos[n]) as img:
        return img.convert("RGB").resize(size, Image.Resampling.BILINEAR)


def write_format(path: Path, rgb: Image.Image, exif: bytes | None = None, **options) -> Path:
    """``rgb`` saved in the format of ``path``'s extension (.heic, .avif, .jxl, .dng, or
    anything Pillow writes), with the EXIF block ``exif``."""
    from imgfinder.core import formats

    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".dng":
        return write_dng(path, rgb, **options)
    fmt = formats.format_of_name(path)
    if fmt is not None and fmt.module is not None:
        formats.ensure(fmt)  # registers the plugin's writer too
    kwargs = dict(options)
    if exif is not None:
        kwargs["exif"] = exif
    pillow_format = {".heic": "HEIF", ".heif": "HEIF", ".avif": "AVIF", ".jxl": "JXL"}.get(suffix)
    rgb.save(path, pillow_format, **kwargs)
    return path


def write_tiff_pages(path: Path, pages: list[Image.Image]) -> Path:
    """A multi-page TIFF, one page per picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pages[0].save(path, "TIFF", save_all=True, append_images=pages[1:])
    return path
