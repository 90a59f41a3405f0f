"""Decode a photo (any format of ``core.formats``: JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC,
AVIF, JPEG XL, camera RAW) into the fixed-size RGB array the model wants.

What a file costs is bounded before its body is read:

* only regular files are opened, and never in a way that can block: a named pipe, a
  socket, a device or a folder named ``x.jpg`` is refused with a reason (``open_regular``);
* the header is parsed first (Pillow opens lazily), so a file that is not an image is
  refused after reading a few bytes, whatever its size (a WebP's canvas size is checked
  from its first bytes: Pillow reads the whole file and allocates the canvas to open it);
* the content hash is computed by streaming the file in chunks, never by holding it;
* JPEGs are decoded at reduced scale with ``draft()`` (up to 8x smaller a side, and
  faster) because the model only needs a few hundred pixels a side, and so are RAW files
  (the camera's preview, or the mosaic at half size: ``core.raw``); other formats cannot
  be reduced while decoding, so their pixels are estimated from the header: an image
  needing more than ``MAX_DECODE_BYTES`` is refused with a reason, and large ones share
  a budget of ``DECODE_BUDGET_BYTES`` (a huge PNG waits for another instead of doubling
  the peak). Large images are then converted and reduced in bands, so mode conversions
  (palette to RGBA, grey to RGB) never copy the whole picture.
* formats whose reader holds the whole file (HEIC, AVIF, JPEG XL, RAW, WebP) are refused
  above ``MAX_DECODE_BYTES`` on disk, and a JPEG XL's size is read from its header before
  the plugin opens it (pillow-jxl-plugin decodes while opening).

A file named like a photo whose format's decoder is not installed is refused with what to
install (``formats.FormatUnavailable``), never skipped in silence."""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import formats
from .decode_error import DecodeError
from .decode_reasons import _reasons, _route_warning
from .file_reading import HASH_CHUNK, _file_size, hash_bytes, hash_stream, open_regular, read_file
from .jxl_header import jxl_size
from .layout import layout_signature, signature_to_bytes
from .model_pixels import (
    _ORIENT_METHOD,
    _TRANSPOSED_ORIENTATIONS,
    BANDED_PIXELS,
    PREPROCESSING_ID,
    _oriented,
    _reduce_in_bands,
    chroma,
    model_pixels,
    square_pixels,
    to_rgb,
)

# The decoder's façade: reading a file, wording its failures and the model's pixels are
# defined beside it (file_reading, decode_reasons, model_pixels) and re-exported here.
__all__ = [
    "HASH_CHUNK", "PREPROCESSING_ID", "DecodeError", "DecodedImage", "PhotoFile", "chroma", "decode_for_model",
    "hash_bytes", "hash_stream", "identify", "load_image", "model_pixels", "open_image", "open_regular", "read_file",
    "square_pixels", "to_rgb",
]


# A 20,000 x 15,000 panorama is fine; anything bigger is refused from its header rather
# than risk exhausting memory on a decompression bomb.
MAX_PIXELS = 300_000_000


Image.MAX_IMAGE_PIXELS = MAX_PIXELS


# Above MAX_PIXELS Pillow warns (and refuses above twice that); the warning is replaced
# by our own refusal with a reason, so it is not printed.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


# Pixels Pillow holds for one decoded image (after JPEG draft): more is refused. 1 GiB is
# a 268-megapixel RGB image or a 1-gigapixel greyscale or palette one.
MAX_DECODE_BYTES = 1 << 30


# All decodes above LARGE_DECODE_BYTES share this budget: two huge images decode one
# after the other, not at once (one larger than the budget decodes alone). Smaller ones
# (every camera JPEG, after its draft) never wait. So the pixels of all decodes in
# progress stay under max(DECODE_BUDGET_BYTES, MAX_DECODE_BYTES) plus the small ones.
DECODE_BUDGET_BYTES = 512 << 20


LARGE_DECODE_BYTES = 64 << 20


@dataclass(frozen=True)
class DecodedImage:
    """Model-ready pixels plus facts about the original file."""

    pixels: np.ndarray  # (size, size, 3) uint8
    width: int  # of the photo as displayed (after EXIF orientation)
    height: int
    content_hash: str
    layout: bytes | None = None  # grey layout signature for duplicate verification (core.layout)
    chroma: float | None = None  # how colourful the pixels are (``chroma``); 0 for a greyscale photo


def _format_name(img: Image.Image) -> str | None:
    """The name of a plugin format for reasons ("HEIC", "JPEG XL", "DNG"), or None for
    Pillow's own formats (their reasons stay as they were)."""
    if getattr(img, "decode_cost", None) is not None:
        return img.format  # a RAW, named by its extension (``_identify``)
    return formats.plugin_name(img.format)


warnings.showwarning = _route_warning


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP's first 30 bytes (Pillow allocates it while opening)."""
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    return None


# Signatures of the photo formats, to tell "not an image" from "a damaged PNG" when
# Pillow cannot open a file.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"),
)


def _signature(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MB"


def _too_large(width: int, height: int, mode: str, need: int) -> DecodeError:
    return DecodeError(
        f"image too large to decode safely ({width}x{height} {mode} needs {_mb(need)}; "
        f"the limit is {_mb(MAX_DECODE_BYTES)})"
    )


def _kind_label(kind: formats.ImageFormat, name: str | None) -> str:
    """What to call a file of ``kind`` in a reason: a RAW by its extension ("DNG")."""
    if kind.raw and formats.is_raw_name(name):
        return os.path.splitext(name or "")[1][1:].upper()
    return kind.name


def _bounds_before_open(handle: BinaryIO, head: bytes, kind: formats.ImageFormat | None, label: str) -> int:
    """Refuse, before the reader holds the file, what would not fit the bounds; returns the
    bytes the opening itself will hold (a JPEG XL is decoded while opened)."""
    size = _file_size(handle)
    webp = _webp_size(head)
    if webp is not None:
        need = webp[0] * webp[1] * 4 + size
        if need > MAX_DECODE_BYTES:
            raise _too_large(webp[0], webp[1], "WebP", need)
    if kind is None:
        return 0
    if kind.whole_file and size > MAX_DECODE_BYTES:
        raise DecodeError(f"{label} file too large to read safely ({_mb(size)}; the limit is {_mb(MAX_DECODE_BYTES)})")
    if kind is formats.JXL:
        dims = jxl_size(handle)
        if dims is None:
            raise DecodeError("corrupt JPEG XL file: its header cannot be read")
        width, height = dims
        if width * height > MAX_PIXELS:
            raise DecodeError(
                f"image too large ({width}x{height} pixels, {width * height / 1e6:.0f} megapixels; "
                f"the limit is {MAX_PIXELS / 1e6:.0f})"
            )
        need = width * height * 8 + size  # decoded, then copied into Pillow
        if need > MAX_DECODE_BYTES:
            raise _too_large(width, height, "JPEG XL", need)
        return need
    return 0


def identify(handle: BinaryIO, name: str | None = None) -> Image.Image:
    """Open the photo ``handle`` (named ``name``, whose extension may tell its format) as a
    Pillow image, its header parsed and its pixels not decoded; raises ``DecodeError``."""
    return _identify(handle, name)


def _identify(handle: BinaryIO, name: str | None = None) -> Image.Image:
    """Parse the header only (Pillow reads a few KB); the body is not read.

    (WebP is the exception: Pillow reads the whole file and allocates the canvas while
    opening, so its size is checked from the first bytes before; likewise a JPEG XL's.)
    """
    with _reasons():
        head = handle.read(32)
        handle.seek(0)
    kind = formats.kind_of(head, name)
    label = _kind_label(kind, name) if kind is not None else "image"
    try:
        ids = formats.pillow_ids(kind)
    except formats.FormatUnavailable as exc:
        raise DecodeError(exc.reason) from None
    plugin = label if kind is not None and kind.module is not None else None
    with _reasons(plugin):
        opening = _bounds_before_open(handle, head, kind, label)
        try:
            with DECODE_BUDGET.reserve(opening):
                img = Image.open(handle, formats=ids)
        except UnidentifiedImageError:
            found = plugin if plugin and (kind.raw or formats.sniff(head) is kind) else _signature(head)
            if found is not None:
                raise DecodeError(f"corrupt {found} file: its header cannot be read") from None
            if plugin is not None:
                raise DecodeError(f"not a {plugin} file: its content is not a {plugin}'s (unknown or corrupt format)") from None
            raise DecodeError(f"not an image: not a {formats.names()} file (unknown or corrupt format)") from None
        if kind is not None and kind.raw:
            img.format = label
        _orientation_shown_by_decoder(img)
        width, height = img.size
        if width < 1 or height < 1:
            raise DecodeError(f"image has no pixels ({width}x{height})")
        if width * height > MAX_PIXELS:
            raise DecodeError(
                f"image too large ({width}x{height} pixels, {width * height / 1e6:.0f} megapixels; "
                f"the limit is {MAX_PIXELS / 1e6:.0f})"
            )
        return img


def _orientation_shown_by_decoder(img: Image.Image) -> None:
    """A JPEG XL's pixels come out turned by its codestream's orientation (libjxl applies
    it; the format says an EXIF orientation is to be ignored), so its EXIF orientation is
    dropped; one rebuilt from a JPEG (``img.jpeg``) is that JPEG, turned by its EXIF."""
    if img.format != "JXL" or getattr(img, "jpeg", False):
        return
    try:
        exif = img.getexif()
        if 0x0112 in exif:
            del exif[0x0112]
    except Exception:  # noqa: BLE001 - a broken EXIF block: nothing to drop
        pass


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block must not lose the photo
        return 1
    return value if value in _ORIENT_METHOD else 1  # garbage orientations: as stored


def _bytes_per_pixel(mode: str) -> int:
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decoded_bytes(img: Image.Image) -> int:
    """The bytes Pillow allocates to load ``img`` as it is now (after a JPEG draft); a RAW
    says what developing it holds (``core.raw``)."""
    cost = getattr(img, "decode_cost", None)
    if cost is not None:
        return int(cost())
    width, height = img.size
    return width * height * _bytes_per_pixel(img.mode)


class _Budget:
    """Bytes of large decodes in progress; a decode waits until its estimate fits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0  # the most reserved at once (for tests and benchmarks)
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, amount: int) -> Iterator[None]:
        if amount < LARGE_DECODE_BYTES:
            yield
            return
        amount = min(amount, self.limit)
        with self._cond:
            while self.used and self.used + amount > self.limit:
                self._cond.wait()
            self.used += amount
            self.peak = max(self.peak, self.used)
        try:
            yield
        finally:
            with self._cond:
                self.used -= amount
                self._cond.notify_all()


DECODE_BUDGET = _Budget(DECODE_BUDGET_BYTES)


def _prepare(img: Image.Image, min_side: int | None) -> tuple[int, int]:
    """Drafts a JPEG down to ``min_side`` and refuses an image whose pixels would not fit
    MAX_DECODE_BYTES; returns the full (stored, not oriented) width and height."""
    with _reasons(_format_name(img)):
        full = img.size
        raw = getattr(img, "decode_cost", None) is not None
        if min_side and (img.format in ("JPEG", "MPO") or raw):
            scale = min(full) / min_side  # the smaller side, however the photo is shown
            if scale >= 2 or raw:
                img.draft("RGB", (max(1, int(full[0] / scale)), max(1, int(full[1] / scale))))
        need = decoded_bytes(img)
        if need > MAX_DECODE_BYTES:
            raise _too_large(*img.size, img.mode, need)
    return full


def _shown(full: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (full[1], full[0]) if orientation in _TRANSPOSED_ORIENTATIONS else full


def open_image(data: bytes, min_side: int | None = None, name: str | None = None) -> tuple[Image.Image, int, int]:
    """Open and orient an image held in memory (read from a file called ``name``, whose
    extension may tell its format: a RAW's); see ``PhotoFile.load``."""
    if not data:
        raise DecodeError("empty file")
    return _load(_identify(io.BytesIO(data), name), min_side)


def load_image(path: str, min_side: int | None = None) -> tuple[Image.Image, int, int]:
    """Like ``open_image(read_file(path))`` without holding the file in memory."""
    with PhotoFile(path) as photo:
        return photo.load(min_side)


def _load(img: Image.Image, min_side: int | None) -> tuple[Image.Image, int, int]:
    """Load and orient; returns the image with the full oriented width and height.

    With ``min_side``, JPEGs are decoded at the smallest scale that keeps both sides at
    least that large, and a large image of another format is returned converted to RGB
    and reduced (by a whole factor keeping both sides at least ``min_side``).
    """
    full = _prepare(img, min_side)
    with DECODE_BUDGET.reserve(decoded_bytes(img)), _reasons(_format_name(img)):
        img.load()
        orientation = _orientation(img)  # after loading: a PNG's EXIF may follow its pixels
        if min_side and img.size[0] * img.size[1] > BANDED_PIXELS:
            factor = max(1, min(img.size) // min_side)
            if factor > 1:
                img = _reduce_in_bands(img, (factor, factor))
        img = _oriented(img, orientation)
    return (img, *_shown(full, orientation))


class PhotoFile:
    """A photo opened for reading: a regular file (``open_regular``) whose header was
    parsed and found to be an image, its body not read yet.

    Use as a context manager; ``content_hash()`` streams the whole file, ``decode_for_model``
    and ``load`` decode it, ``changed()`` tells if it was written to meanwhile.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._handle, self.stat = open_regular(path)
        try:
            if self.stat.st_size == 0:
                raise DecodeError("empty file")
            self.image = _identify(self._handle, path)
        except BaseException:
            self._handle.close()
            raise

    def close(self) -> None:
        try:
            self.image.close()
        finally:
            self._handle.close()

    def __enter__(self) -> PhotoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def content_hash(self) -> str:
        try:
            return hash_stream(self._handle)
        except OSError as exc:
            raise DecodeError(f"cannot read file: {exc.strerror or exc}") from None

    def changed(self) -> bool:
        """Was the file written to since it was opened (size or modification time)?"""
        try:
            now = os.fstat(self._handle.fileno())
        except OSError:
            return True
        return (now.st_size, now.st_mtime_ns) != (self.stat.st_size, self.stat.st_mtime_ns)

    def load(self, min_side: int | None = None) -> tuple[Image.Image, int, int]:
        return _load(self.image, min_side)

    def decode_for_model(self, size: int, content_hash: str | None = None) -> DecodedImage:
        if content_hash is None:
            content_hash = self.content_hash()
        return _decode(self.image, size, content_hash)


def _decode(img: Image.Image, size: int, content_hash: str) -> DecodedImage:
    full = _prepare(img, size)
    with DECODE_BUDGET.reserve(decoded_bytes(img)), _reasons(_format_name(img)):
        img.load()
        orientation = _orientation(img)
        pixels = model_pixels(img, size, orientation)
        # The full-size pixels go now, inside the budget, not when the caller lets go
        # (``Image.close`` only: ``ImageFile.close`` would also close the caller's file).
        Image.Image.close(img)
    width, height = _shown(full, orientation)
    layout = signature_to_bytes(layout_signature(pixels))
    return DecodedImage(pixels=pixels, width=width, height=height, content_hash=content_hash, layout=layout,
                        chroma=chroma(pixels))


def decode_for_model(
    path: str, size: int, data: bytes | None = None, content_hash: str | None = None
) -> DecodedImage:
    """Read ``path`` and return ``size`` x ``size`` RGB pixels plus hash and dimensions.

    The whole photo is squeezed to a square (no crop) so nothing in it is lost to the
    model; aspect changes are rare between copies and the model is trained with them.
    Pass ``data`` (and its ``content_hash``) when the caller already holds the bytes.
    """
    if data is not None:
        if not data:
            raise DecodeError("empty file")
        return _decode(_identify(io.BytesIO(data), path), size, content_hash or hash_bytes(data))
    with PhotoFile(path) as photo:
        return photo.decode_for_model(size, content_hash)
