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
install (``formats.FormatUnavailable``), never skipped in silence.
"""

from __future__ import annotations

import errno
import hashlib
import io
import math
import os
import stat
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from struct import error as struct_error
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import formats
from .jxl_header import jxl_size
from .layout import frame_fractions, layout_signature, signature_to_bytes
from .decode_error import DecodeError
from .file_kinds import not_regular_reason

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
# Images with more pixels than this are converted to RGB and reduced band by band.
BANDED_PIXELS = 16_000_000
BAND_BYTES = 8 << 20
HASH_CHUNK = 1 << 20

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


@dataclass(frozen=True)
class DecodedImage:
    """Model-ready pixels plus facts about the original file."""

    pixels: np.ndarray  # (size, size, 3) uint8
    width: int  # of the photo as displayed (after EXIF orientation)
    height: int
    content_hash: str
    layout: bytes | None = None  # grey layout signature for duplicate verification (core.layout)
    chroma: float | None = None  # how colourful the pixels are (``chroma``); 0 for a greyscale photo


def hash_bytes(data: bytes) -> str:
    """A fast content hash: identical bytes mean an exact copy."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def hash_stream(handle: BinaryIO) -> str:
    """``hash_bytes`` of a whole file read in chunks (from its start; the position is
    put back), so a large file is never held in memory to be hashed."""
    digest = hashlib.blake2b(digest_size=20)
    position = handle.tell()
    handle.seek(0)
    try:
        buffer = bytearray(HASH_CHUNK)
        view = memoryview(buffer)
        while True:
            n = handle.readinto(view)  # type: ignore[attr-defined]
            if not n:
                break
            digest.update(view[:n])
    finally:
        handle.seek(position)
    return digest.hexdigest()


def _open_error(path: str, exc: OSError) -> DecodeError:
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return DecodeError("broken symlink: its target is missing")
        return DecodeError("file vanished before it could be read")
    if isinstance(exc, PermissionError):
        return DecodeError("permission denied")
    if isinstance(exc, IsADirectoryError):
        return DecodeError("is a folder, not a file")
    if exc.errno == errno.ELOOP:
        return DecodeError("symlink loop: the link never reaches a file")
    if exc.errno == errno.ENXIO:  # opening a Unix socket (or a device with no driver)
        return DecodeError("is a socket or device, not a photo file: not read")
    if exc.errno == errno.ENAMETOOLONG:
        return DecodeError("name too long to open")
    return DecodeError(f"cannot read file: {exc.strerror or exc}")


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def open_regular(path: str) -> tuple[BinaryIO, os.stat_result]:
    """Open ``path`` for reading if it is a regular file; returns the file and its stat.

    The file is opened non-blocking and checked on the open descriptor (``fstat``), so
    a named pipe, a device or a file swapped for one after a scan can never block the
    caller; they and folders raise ``DecodeError`` with a reason.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _open_error(path, exc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DecodeError(not_regular_reason(st.st_mode))
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)  # a regular file: reads are plain reads again
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def read_file(path: str) -> bytes:
    """The whole of a regular file (see ``open_regular``); prefer ``PhotoFile`` for photos."""
    handle, _ = open_regular(path)
    with handle:
        try:
            return handle.read()
        except OSError as exc:
            raise DecodeError(f"cannot read file: {exc.strerror or exc}") from None


def _format_name(img: Image.Image) -> str | None:
    """The name of a plugin format for reasons ("HEIC", "JPEG XL", "DNG"), or None for
    Pillow's own formats (their reasons stay as they were)."""
    if getattr(img, "decode_cost", None) is not None:
        return img.format  # a RAW, named by its extension (``_identify``)
    return formats.plugin_name(img.format)


def one_line(text: str) -> str:
    """A library's message as one line: libheif ends its reasons with a blank line, and a
    reason is shown after a file's name, one per line."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


# What a decoder library says that is advice for its own developers, not for a user:
# libjxl's catch-all (through jpegxl-rs) tells the reader to build libjxl from source.
_DEVELOPER_ADVICE = (("Generic Error. Please build `libjxl` from source", "libjxl could not decode it"),)


def _plain(message: str) -> str:
    for said, meant in _DEVELOPER_ADVICE:
        if said in message:
            return meant
    return message


# Pillow's warnings about one file ("Possibly corrupt EXIF data", "Truncated File Read"):
# never printed raw on stderr. While this thread decodes a file they are kept for it and
# become part of its reason if it cannot be read; otherwise they are dropped.
_decoding = threading.local()
_show_warning = warnings.showwarning


def _route_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    kept = getattr(_decoding, "warnings", None)
    if kept is not None:
        kept.append(one_line(str(message)))
    elif "/PIL/" not in str(filename).replace("\\", "/"):  # a Pillow warning outside a decode: dropped
        _show_warning(message, category, filename, lineno, file, line)


warnings.showwarning = _route_warning


@contextmanager
def _reasons(kind: str | None = None) -> Iterator[None]:
    """Turn whatever Pillow (or a plugin) raises for a bad file into a ``DecodeError`` with
    a reason (Pillow's warnings about it added); ``kind`` names a plugin format's files."""
    outer = getattr(_decoding, "warnings", None)
    if outer is None:
        _decoding.warnings = []
    try:
        with _raw_reasons(kind):
            yield
    except DecodeError as exc:
        seen = [w for w in dict.fromkeys(getattr(_decoding, "warnings", None) or []) if w]
        if seen and outer is None:
            raise DecodeError(f"{exc.reason} (Pillow warned: {'; '.join(seen)})") from None
        raise
    finally:
        if outer is None:
            _decoding.warnings = None


@contextmanager
def _raw_reasons(kind: str | None = None) -> Iterator[None]:
    """Turn whatever Pillow (or a plugin) raises for a bad file into a ``DecodeError`` with
    a reason; ``kind`` names a plugin format's files ("corrupt HEIC file: ...")."""
    try:
        yield
    except DecodeError as exc:
        if kind and exc.reason.startswith("corrupt RAW file"):  # core.raw does not know the name
            raise DecodeError(f"corrupt {kind} file" + exc.reason[len("corrupt RAW file"):]) from None
        raise
    except UnidentifiedImageError:
        raise DecodeError("not an image Pillow can read (unknown or corrupt format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DecodeError("image too large (decompression bomb guard)") from None
    except MemoryError:
        raise DecodeError("out of memory while decoding") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct_error,
            RuntimeError) as exc:
        message = _plain(one_line(str(exc)) or type(exc).__name__)
        if "truncated" in message.lower():
            raise DecodeError("truncated file (incomplete image data)") from None
        if kind:
            raise DecodeError(f"corrupt {kind} file: {message}") from None
        raise DecodeError(f"corrupt image: {message}") from None


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


def _file_size(handle: BinaryIO) -> int:
    try:
        return os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):  # in memory
        position = handle.tell()
        size = handle.seek(0, io.SEEK_END)
        handle.seek(position)
        return size


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


def _oriented(img: Image.Image, orientation: int) -> Image.Image:
    if orientation and orientation != 1:
        return img.transpose(_ORIENT_METHOD[orientation])
    return img


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


def chroma(pixels: np.ndarray) -> float:
    """Mean over the pixels of (largest - smallest RGB channel): 0 for a greyscale picture,
    1-2 for one saved as a colour JPEG (chroma rounding), tens for a colour photo. Stored
    per photo so the duplicate search can tell a greyscale copy of a colour photo."""
    p = np.asarray(pixels)
    return float((p.max(axis=-1).astype(np.int16) - p.min(axis=-1)).mean())


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
