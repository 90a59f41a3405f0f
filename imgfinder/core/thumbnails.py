"""A disk cache of JPEG thumbnails so browsing a large library decodes each photo once.

Entries are keyed by path, file size, mtime_ns and thumbnail size, so an edited photo
gets a new thumbnail and stale entries are simply never read again. Writes go to a temp
file then ``os.replace``, so a crash or two threads never leave a half-written JPEG. Each
entry ends with a CRC-32 of its JPEG (JPEG readers ignore bytes after the image), so an
entry damaged on disk (truncated, overwritten, emptied, a folder in its place) is made
again from the photo and rewritten, never shown as garbage.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zlib
from pathlib import Path

from PIL import Image

from .decoder import DecodeError, open_image, read_file, to_rgb

THUMBS_DIR = "thumbnails"
TRAILER = b"IFT1"  # after the JPEG: the CRC-32 of the JPEG (4 bytes, big-endian), then this


def _sealed(jpeg: bytes) -> bytes:
    return jpeg + zlib.crc32(jpeg).to_bytes(4, "big") + TRAILER


def _intact(entry: bytes) -> bool:
    """True if a cache entry's checksum holds (False: damaged, or made before checksums)."""
    if len(entry) < 8 or not entry.endswith(TRAILER):
        return False
    return zlib.crc32(entry[:-8]) == int.from_bytes(entry[-8:-4], "big")


class ThumbnailCache:
    """Thumbnails under ``data_dir/thumbnails``; safe to use from several threads."""

    def __init__(self, data_dir: str | os.PathLike[str], quality: int = 85) -> None:
        self.directory = Path(data_dir) / THUMBS_DIR
        self.quality = quality

    def cache_path(self, path: str, size: int, mtime_ns: int, side: int) -> Path:
        key = f"{os.path.abspath(path)}\0{size}\0{mtime_ns}\0{side}"
        digest = hashlib.blake2b(os.fsencode(key), digest_size=16).hexdigest()
        return self.directory / digest[:2] / f"{digest}.jpg"

    def get_bytes(self, path: str, side: int = 256) -> bytes:
        """JPEG bytes of a thumbnail fitting in ``side`` x ``side`` (with the cache's checksum
        after the image, which JPEG readers ignore); raises DecodeError."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise DecodeError("file not found") from None
        except OSError as exc:
            raise DecodeError(f"cannot read file: {exc.strerror or exc}") from None
        cached = self.cache_path(path, st.st_size, st.st_mtime_ns, side)
        try:
            data = cached.read_bytes()
            if _intact(data):
                return data
        except OSError:
            pass  # missing (or unreadable): made below
        img = self._make(path, side)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=self.quality)
        data = _sealed(buf.getvalue())
        self._write(cached, data)
        return data

    def get(self, path: str, side: int = 256) -> Image.Image:
        """A thumbnail as an RGB PIL image; raises DecodeError for unreadable files."""
        data = self.get_bytes(path, side)
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
            return to_rgb(img)
        except OSError:  # a damaged cache entry: rebuild it
            return self._make(path, side)

    @staticmethod
    def _make(path: str, side: int) -> Image.Image:
        img, _, _ = open_image(read_file(path), min_side=side, name=path)
        try:
            rgb = to_rgb(img)
            rgb.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        except (OSError, ValueError) as exc:
            raise DecodeError(f"corrupt image: {exc}") from None
        return rgb

    def _write(self, target: Path, data: bytes) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)  # a folder where an entry belongs
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, target)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # a read-only or full cache only costs speed
