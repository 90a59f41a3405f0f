"""All-or-nothing moves of one file, never over another file, never losing the original.

A move is a hard link (or a rename that refuses to replace) on the same device; across
devices it is a copy to a temporary name in the destination folder, checked (size and
content hash, read back from the copy), then put in place without replacing anything.
The original is removed last, and only once its new name is on disk. If anything fails,
or the move is interrupted (an exception of any kind), exactly what was created is removed
(the temporary copy, the new name) and the original is left as it was, unless the original
is already gone, in which case the new name is the photo and is kept (``completed``).

Before acting, the file is checked against what the scan saw (size, mtime, content hash):
a file changed since then is not moved (:class:`Skipped`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
TEMP_PREFIX = ".imgfinder-"
TEMP_SUFFIX = ".part"
STALE_TEMP_SECONDS = 3600.0
# link(2) errors that mean "this file system or file cannot be hard-linked": try a rename.
_NO_LINK = {errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}
_LINK_NOFOLLOW = os.link in os.supports_follow_symlinks


class Skipped(Exception):
    """The file is not what the scan saw (or cannot be moved this way): left alone."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Expected:
    """What the file must still be; ``None`` fields are not compared."""

    size: int | None = None
    mtime_ns: int | None = None
    hash: str | None = None


def new_hash():
    """The catalog's content hash (the same as ``decoder.hash_bytes``), fed in pieces."""
    return hashlib.blake2b(digest_size=20)


def file_hash(path: str | os.PathLike) -> tuple[str, int]:
    """(content hash, bytes read) of a file."""
    h = new_hash()
    n = 0
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        while chunk := os.read(fd, CHUNK):
            h.update(chunk)
            n += len(chunk)
    finally:
        os.close(fd)
    return h.hexdigest(), n


def identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of ``path`` itself (a symlink is not followed), or None if absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def check_unchanged(path: str, expected: Expected, since: str = "it was scanned") -> os.stat_result:
    """Raise :class:`Skipped` unless ``path`` is still a file with the expected size and mtime.

    ``lstat``: a symbolic link put in the file's place is never taken for the file that
    was indexed (``stat`` would follow it and find the target's size and time)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise Skipped("is no longer there") from None
    if stat.S_ISLNK(st.st_mode):
        raise Skipped("is a symbolic link now, not the file that was indexed")
    if not stat.S_ISREG(st.st_mode):
        raise Skipped("is not a regular file")
    if expected.size is not None and st.st_size != expected.size:
        raise Skipped(f"changed since {since} ({expected.size:,} bytes then, {st.st_size:,} now)")
    if expected.mtime_ns is not None and st.st_mtime_ns != expected.mtime_ns:
        raise Skipped(f"was modified since {since}")
    return st


def same_content(path: str, expected: Expected, st: os.stat_result, since: str = "it was scanned") -> str:
    """The content hash of ``path`` (already ``check_unchanged`` as ``st``), when it is the
    one expected; else :class:`Skipped`: another file, with its size and time put back."""
    digest, n = file_hash(path)
    if digest != expected.hash or n != st.st_size:
        raise Skipped(f"its content changed since {since}")
    return digest


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a new or removed name in ``folder`` durable (no-op where folders cannot be synced)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def rename_noreplace(src: str, dst: str) -> None:
    """Rename that fails with FileExistsError instead of replacing ``dst``."""
    if sys.platform == "win32":
        os.rename(src, dst)  # never replaces on Windows
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        at_fdcwd, rename_noreplace_flag = -100, 1
        rc = libc.renameat2(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), rename_noreplace_flag)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        rc = libc.renamex_np(os.fsencode(src), os.fsencode(dst), 0x4)  # RENAME_EXCL
    else:
        raise OSError(errno.ENOTSUP, "this system cannot rename without the risk of replacing a file", dst)
    if rc != 0:
        err = ctypes.get_errno()
        if err == errno.EINVAL:  # the file system does not know the flag
            err = errno.ENOTSUP
        raise OSError(err, os.strerror(err), dst)


def _temp_name(folder: Path) -> Path:
    return folder / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def sweep_stale_temps(folder: str | os.PathLike, older_than: float | None = None) -> list[str]:
    """Remove temporary copies left in ``folder`` by an interrupted process (killed, power cut).

    They are never the only copy of a photo: the original is removed only after its copy
    has its final name. A copy still being written by another running process is recent
    (its ctime is refreshed by every write and by setting its times), so only copies older
    than ``older_than`` seconds are removed."""
    removed = []
    now = time.time()
    if older_than is None:
        older_than = STALE_TEMP_SECONDS
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_temp_name(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and now - st.st_ctime > older_than:
                os.unlink(entry.path)
                removed.append(entry.path)
        except OSError:
            continue
    return removed


class Transfer:
    """Move ``src`` to the new name ``dst`` (in an existing folder), all or nothing.

    ``run`` raises FileExistsError if ``dst`` is taken (nothing changed), :class:`Skipped`
    if the file changed since ``expected``, OSError for other failures; after any exception
    ``completed`` tells whether the photo is at ``dst`` (the original already removed) or
    still at ``src`` (everything created removed). ``step`` names the step being done,
    for messages."""

    def __init__(self, src: str, dst: str, expected: Expected | None = None, since: str = "it was scanned") -> None:
        self.src, self.dst = src, dst
        self.expected = expected or Expected()
        self.since = since  # when ``expected`` was true, for messages
        self.completed = False
        self.step = "check the file"
        self._ours: set[tuple[int, int]] = set()  # inodes that may sit at dst because of us
        self._temp: Path | None = None
        self._temp_id: tuple[int, int] | None = None
        self._origin: tuple[int, int] | None = None
        self.leftovers: list[str] = []  # what a failed roll-back could not remove (with why)

    def run(self) -> None:
        try:
            self._run()
        except BaseException:
            self._roll_back()
            raise
        self.completed = True

    # -- steps -------------------------------------------------------------------------
    def _run(self) -> None:
        src, dst = self.src, self.dst
        try:
            lst = os.lstat(src)
        except FileNotFoundError:
            raise Skipped("is no longer there") from None
        self._origin = (lst.st_dev, lst.st_ino)
        st = check_unchanged(src, self.expected, self.since)
        digest = None
        if self.expected.hash is not None:
            self.step = "read the file"
            digest = same_content(src, self.expected, st, self.since)
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
        self.step = "link it into the destination"
        self._ours.add(self._origin)
        try:
            if _LINK_NOFOLLOW:
                os.link(src, dst, follow_symlinks=False)  # a symlink moves as itself
            else:
                os.link(src, dst)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                self._copy(st, digest, stat.S_ISLNK(lst.st_mode))
                return
            if exc.errno not in _NO_LINK:
                raise
            # No hard links here (FAT, some network shares): a rename that never replaces.
            self.step = "move it into the destination"
            try:
                rename_noreplace(src, dst)
            except OSError as exc2:
                if exc2.errno != errno.EXDEV:
                    raise
                self._copy(st, digest, stat.S_ISLNK(lst.st_mode))
            else:
                self._fsync_dirs()
            return
        self._check_same_file(st)
        self.step = "save the new name"
        fsync_dir(os.path.dirname(dst))
        self.step = "remove the original"
        os.unlink(src)

    def _fsync_dirs(self) -> None:
        self.step = "save the new name"
        fsync_dir(os.path.dirname(self.dst))

    def _check_same_file(self, st: os.stat_result) -> None:
        self.step = "check the original again"
        now = check_unchanged(self.src, Expected(st.st_size, st.st_mtime_ns))
        if identity(self.src) != self._origin or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise Skipped("was replaced by another file while it was being moved")

    def _copy(self, st: os.stat_result, digest: str | None, is_link: bool) -> None:
        """Across devices: temporary copy, checked, renamed into place, then the original removed."""
        src, dst = self.src, self.dst
        if is_link:
            raise Skipped("is a symbolic link on another device than the destination: not moved")
        folder = Path(dst).parent
        self.step = "copy it to the other device"
        temp = _temp_name(folder)
        self._temp = temp  # a fresh random name: whatever is there is ours
        out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            fst = os.fstat(out)
            self._temp_id = (fst.st_dev, fst.st_ino)
            self._ours.add(self._temp_id)
            h, n = new_hash(), 0
            fin = os.open(src, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                while chunk := os.read(fin, CHUNK):
                    h.update(chunk)
                    n += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out, view):]
            finally:
                os.close(fin)
            self.step = "save the copy"
            os.fsync(out)
        finally:
            os.close(out)
        copied = h.hexdigest()
        if n != st.st_size or (digest is not None and copied != digest):
            raise Skipped("changed while it was being copied")
        self.step = "copy its dates and permissions"
        shutil.copystat(src, temp)
        self.step = "check the copy"
        back, m = file_hash(temp)
        if m != n or back != copied:
            raise OSError(errno.EIO, "the copy does not match the original", str(temp))
        self.step = "name the copy"
        try:
            os.link(temp, dst)
            placed_by_link = True
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            rename_noreplace(str(temp), dst)
            placed_by_link = False
            self._temp = None
        if placed_by_link:
            os.unlink(temp)
            self._temp = None
        self._fsync_dirs()
        self._check_same_file(st)
        self.step = "remove the original"
        os.unlink(src)

    # -- undoing what was done -------------------------------------------------------------
    def _roll_back(self) -> None:
        """Called on any exception: keep the photo where it is whole, remove what we created."""
        if self._origin is None:
            return  # nothing was done
        try:
            at_dst = identity(self.dst)
            at_src = identity(self.src)
        except OSError as exc:
            self.leftovers.append(f"{self.dst} (cannot check it: {exc.strerror or exc})")
            return
        ours = at_dst is not None and at_dst in self._ours
        if ours and at_src != self._origin:
            self.completed = True  # the original is gone: the new name is the photo now
        elif ours:
            self._remove(self.dst)
        if self._temp is not None:
            try:
                at_temp = identity(self._temp)
            except OSError:
                at_temp = None
            if at_temp is not None and (self._temp_id is None or at_temp == self._temp_id):
                self._remove(str(self._temp))
            self._temp = None

    def _remove(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.leftovers.append(f"{path} ({exc.strerror or exc})")
