"""Every image format the app reads, in one list: its file extensions, which decoder reads
it and whether that decoder is installed. The scanner's extensions (``IMAGE_EXTENSIONS``)
and the formats the decoder hands to Pillow (``pillow_ids``) both come from here, so a
photo is never found and then silently left unread, nor readable and never found.

The decoders: Pillow itself reads JPEG, PNG, WebP, GIF, BMP and TIFF, and AVIF (its wheels
carry libavif since Pillow 11.3; pillow-heif 1.x dropped AVIF); pillow-heif reads
HEIC/HEIF; pillow-jxl-plugin reads JPEG XL; rawpy (LibRaw) reads camera RAW files through
the Pillow plugin in ``core.raw``.

Why these packages: each has binary wheels on PyPI for CPython 3.10 to 3.14 on Linux
(x86_64, aarch64), macOS (x86_64, arm64) and Windows (x86_64), checked with
``pip download --only-binary=:all: --platform ...`` (December 2026: pillow-heif 1.8.1,
pillow-jxl-plugin 1.3.8, rawpy 0.28.0; rawpy's newest wheels for Intel macOS and for
Python 3.10 are 0.25.1 and 0.27.1, which pip picks there). Only Windows on ARM with
Python 3.10 has no wheel of rawpy or pillow-jxl-plugin, so pyproject.toml leaves them out
there and such a RAW or JPEG XL file is a problem with the reason below. pillow-jxl-plugin
(libjxl through jpegxl-rs) was chosen over jxlpy (no wheels since 2024) and imagecodecs
(no Pillow plugin, 30 MB).

Plugins are imported and registered with Pillow on first use (``ensure``), never on
import: importing them costs 0.1 to 0.2 s each, which ``imgfinder --help`` and a folder
of JPEGs must not pay. Whether one is installed is a cheap ``find_spec`` look-up.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageFormat:
    """One format: what people call it, its extensions and the decoder that reads it."""

    key: str
    name: str  # as people call it, in reasons ("HEIC", "JPEG XL")
    extensions: tuple[str, ...]
    pillow_ids: tuple[str, ...]  # the Pillow formats (plugins) that open it
    module: str | None = None  # imported to register the decoder; None: Pillow has it built in
    install: str | None = None  # what to install when the decoder is missing
    raw: bool = False  # a camera RAW file (core.raw)
    whole_file: bool = False  # its decoder reads the whole file to open it


JPEG = ImageFormat("jpeg", "JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"), ("JPEG",))  # and MPO
PNG = ImageFormat("png", "PNG", (".png",), ("PNG",))
WEBP = ImageFormat("webp", "WebP", (".webp",), ("WEBP",), whole_file=True)
GIF = ImageFormat("gif", "GIF", (".gif",), ("GIF",))
BMP = ImageFormat("bmp", "BMP", (".bmp", ".dib"), ("BMP", "DIB"))
TIFF = ImageFormat("tiff", "TIFF", (".tif", ".tiff"), ("TIFF",))
HEIF = ImageFormat("heif", "HEIC", (".heic", ".heif", ".hif"), ("HEIF",), "pillow_heif", "pillow-heif", whole_file=True)
AVIF = ImageFormat("avif", "AVIF", (".avif",), ("AVIF",), "PIL._avif", "Pillow>=11.3", whole_file=True)
JXL = ImageFormat("jxl", "JPEG XL", (".jxl",), ("JXL",), "pillow_jxl", "pillow-jxl-plugin", whole_file=True)
RAW = ImageFormat(
    "raw", "RAW",
    (".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw"),
    ("CAMERA_RAW",), "rawpy", "rawpy", raw=True, whole_file=True,
)
ALL_FORMATS = (JPEG, PNG, WEBP, GIF, BMP, TIFF, HEIF, AVIF, JXL, RAW)
# What Pillow reads without a plugin; every other Pillow format (EPS would even start
# Ghostscript, PSD, ICO ...) is refused in a file named like a photo. JPEG covers MPO
# (multi-picture JPEG).
BUILT_IN = tuple(f for f in ALL_FORMATS if f.module is None)
BUILT_IN_IDS = tuple(i for f in BUILT_IN for i in f.pillow_ids)

IMAGE_EXTENSIONS = frozenset(ext for f in ALL_FORMATS for ext in f.extensions)
_BY_EXTENSION = {ext: f for f in ALL_FORMATS for ext in f.extensions}

# ISO base media ("ftyp" box) brands of HEIF and AVIF files, and Canon's CR3.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"


class FormatUnavailable(Exception):
    """The decoder of a format is not installed (or failed to load); ``reason`` says what
    to install."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def format_of_name(name: str | os.PathLike[str] | None) -> ImageFormat | None:
    """The format a file's extension says it has (None: not a photo's extension)."""
    if name is None:
        return None
    return _BY_EXTENSION.get(os.path.splitext(os.fspath(name))[1].lower())


def is_raw_name(name: str | os.PathLike[str] | None) -> bool:
    """Is this a camera RAW file's name (by its extension)?"""
    fmt = format_of_name(name)
    return fmt is not None and fmt.raw


def sniff(head: bytes) -> ImageFormat | None:
    """The format the first bytes of a file say it has (None: none of ours, or no telling).

    TIFF-based RAW files (DNG, NEF, ARW, CR2 ...) say TIFF: only the name tells them apart.
    """
    if head.startswith(b"\xff\xd8"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head.startswith(b"BM"):
        return BMP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head.startswith(b"\xff\x0a") or head.startswith(_JXL_CONTAINER):
        return JXL
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return AVIF
        if brand in _HEIF_BRANDS:
            return HEIF
        if brand == b"crx ":
            return RAW
    if head.startswith(b"FUJIFILMCCD-RAW") or head[:4] in (b"IIRO", b"IIRS", b"MMOR", b"IIU\x00"):
        return RAW
    return None


def kind_of(head: bytes, name: str | os.PathLike[str] | None) -> ImageFormat | None:
    """The format to read a file as: its content's when that is clear, else its name's.

    A file named like a RAW whose content is TIFF (or unknown) is read as RAW: DNG, NEF,
    ARW and CR2 are TIFF files that Pillow would open at their thumbnail.
    """
    by_content, by_name = sniff(head), format_of_name(name)
    if by_name is not None and by_name.raw and (by_content is None or by_content in (TIFF, RAW)):
        return RAW
    return by_content or by_name


_lock = threading.Lock()
_registered: set[str] = set()
_found: dict[str, bool] = {}
_failed: dict[str, str] = {}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def is_available(fmt: ImageFormat) -> bool:
    """Is the decoder of ``fmt`` installed? (Cheap: looks for the module, imports nothing.)"""
    if fmt.module is None:
        return True
    if fmt.key in _failed:
        return False
    if fmt.key not in _found:
        _found[fmt.key] = _installed(fmt.module)
    return _found[fmt.key]


def missing_reason(fmt: ImageFormat) -> str:
    """Why a file of ``fmt`` is not read, and what to install."""
    if fmt.key in _failed:
        return f"{fmt.name} support failed to load ({_failed[fmt.key]}): reinstall {fmt.install}"
    install = f"'{fmt.install}'" if any(c in (fmt.install or "") for c in "<>=") else fmt.install
    return f"{fmt.name} support is not installed (pip install {install})"


def _register_heif() -> None:
    import pillow_heif

    # The main picture only: no thumbnails, depth maps or auxiliary images decoded.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _register_avif() -> None:
    from PIL import AvifImagePlugin  # noqa: F401 - registers with Pillow on import


def _register_jxl() -> None:
    import pillow_jxl  # noqa: F401 - registers with Pillow on import


def _register_raw() -> None:
    from . import raw

    raw.register()


_REGISTER: dict[str, Callable[[], None]] = {
    "heif": _register_heif, "avif": _register_avif, "jxl": _register_jxl, "raw": _register_raw,
}


def ensure(fmt: ImageFormat) -> None:
    """Make Pillow able to open ``fmt`` (imports and registers its plugin, once);
    raises ``FormatUnavailable`` with a reason when its decoder is not installed."""
    if not is_available(fmt):
        raise FormatUnavailable(missing_reason(fmt))
    if fmt.module is None or fmt.key in _registered:
        return
    with _lock:
        if fmt.key in _registered:
            return
        try:
            _REGISTER[fmt.key]()
        except Exception as exc:  # noqa: BLE001 - a broken install: a reason, not a crash
            _failed[fmt.key] = f"{type(exc).__name__}: {exc}"
            raise FormatUnavailable(missing_reason(fmt)) from None
        _registered.add(fmt.key)


def pillow_ids(fmt: ImageFormat | None) -> tuple[str, ...]:
    """The Pillow formats to try, in order, for a file read as ``fmt`` (``kind_of``);
    registers its plugin first (``ensure``: may raise ``FormatUnavailable``)."""
    if fmt is None or fmt.module is None:
        return BUILT_IN_IDS
    ensure(fmt)
    if fmt.raw:
        return fmt.pillow_ids  # never the TIFF reader: it would open the thumbnail
    return fmt.pillow_ids + BUILT_IN_IDS


def plugin_name(pillow_id: str | None) -> str | None:
    """What people call the format a plugin opened ("HEIF" -> "HEIC"); None for Pillow's own."""
    fmt = next((f for f in ALL_FORMATS if pillow_id in f.pillow_ids), None)
    return fmt.name if fmt is not None and fmt.module is not None else None


def names() -> str:
    """The formats read, for messages: "JPEG, PNG, ... or RAW"."""
    words = [f.name for f in ALL_FORMATS]
    return ", ".join(words[:-1]) + " or " + words[-1]
