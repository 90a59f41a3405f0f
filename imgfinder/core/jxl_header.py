"""The pixel size of a JPEG XL file from its first bytes.

Why: pillow-jxl-plugin decodes the whole picture while *opening* the file, so the decoder's
bounds (``decoder.MAX_PIXELS``, ``MAX_DECODE_BYTES``) must be checked before that, from the
codestream's SizeHeader (JPEG XL, ISO/IEC 18181-1, A.3.1), found directly after the
signature or in the container's first ``jxlc``/``jxlp`` box.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_MAX_BOXES = 64


class _Bits:
    """Reads the codestream's bits, least significant first."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        value = 0
        for i in range(n):
            byte = self.data[self.pos >> 3]  # IndexError: the header is cut short
            value |= ((byte >> (self.pos & 7)) & 1) << i
            self.pos += 1
        return value

    def size_u32(self) -> int:
        return 1 + self.u((9, 13, 18, 30)[self.u(2)])


def _size_from_codestream(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"\xff\x0a":
        return None
    bits = _Bits(data[2:])
    small = bits.u(1)
    height = (bits.u(5) + 1) * 8 if small else bits.size_u32()
    ratio = bits.u(3)
    if ratio:
        num, den = _RATIOS[ratio]
        width = height * num // den
    else:
        width = (bits.u(5) + 1) * 8 if small else bits.size_u32()
    return width, height


def _codestream_head(handle: BinaryIO) -> bytes | None:
    """The first bytes of the codestream of a JPEG XL container (None: none found)."""
    offset = 0
    for _ in range(_MAX_BOXES):
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            return None
        size, kind = struct.unpack(">I4s", header[:8])
        start = 8
        if size == 1:
            if len(header) < 16:
                return None
            size, start = struct.unpack(">Q", header[8:16])[0], 16
        if kind == b"jxlc":
            handle.seek(offset + start)
            return handle.read(32)
        if kind == b"jxlp":
            handle.seek(offset + start + 4)  # after the part's index
            return handle.read(32)
        if size == 0 or size < start:
            return None
        offset += size
    return None


def jxl_size(handle: BinaryIO) -> tuple[int, int] | None:
    """(width, height) of the JPEG XL file ``handle`` (before its orientation), or None
    when its header cannot be read; the position is put back."""
    position = handle.tell()
    try:
        handle.seek(0)
        head = handle.read(32)
        if head.startswith(_CONTAINER):
            head = _codestream_head(handle) or b""
        return _size_from_codestream(head)
    except (IndexError, struct.error, OSError):
        return None
    finally:
        handle.seek(position)
