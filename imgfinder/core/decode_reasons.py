"""How a decoder's failure is said: one line, in the user's words, from Pillow's and the
format plugins' errors and warnings (never a developer's advice to build a library)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from struct import error as struct_error

from PIL import Image, UnidentifiedImageError

from .decode_error import DecodeError


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
