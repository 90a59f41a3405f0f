"""Reading a photo file's bytes safely: opened without following a device or a FIFO's
blocking, refused when it is not a regular file, its content hashed as it is read."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
from typing import BinaryIO

from .decode_error import DecodeError
from .file_kinds import not_regular_reason

HASH_CHUNK = 1 << 20


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


def _file_size(handle: BinaryIO) -> int:
    try:
        return os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):  # in memory
        position = handle.tell()
        size = handle.seek(0, io.SEEK_END)
        handle.seek(position)
        return size
