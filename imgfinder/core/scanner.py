"""Find image files under one or more roots without following symlink loops.

Every entry met is accounted for: yielded as a photo, recorded as a problem (it looks
like a photo but cannot be one: a named pipe, a broken link), or counted as skipped on
purpose with a reason (``SKIP_REASONS``), so the numbers add up to what is on disk.

One file is one photo, however many paths lead to it: a symlink or a hard link to a file
already found is skipped as ``same_file``. Real paths win over symlinks: symlinked files
and folders are looked at only after everything reachable without them.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .file_kinds import file_kind, not_regular_reason  # noqa: F401 - file_kind: for callers
from .formats import IMAGE_EXTENSIONS  # every extension a decoder is known for (installed or not)
from .skip_reasons import SKIP_REASONS  # noqa: F401 - what scan counts in ``skipped`` (for callers)

# Folders that hold caches, trash or OS metadata rather than a user's photos.
SYSTEM_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        "$RECYCLE.BIN",
        "System Volume Information",
        "lost+found",
        "@eaDir",  # Synology thumbnails
        ".Trash",
        ".Trashes",
        ".thumbnails",
    }
)


@dataclass(frozen=True)
class ScannedFile:
    """A candidate image with the stat fields the catalog keys incremental scans on."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanProblem:
    path: str
    reason: str


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _skip_dir(name: str) -> str | None:
    if name in SYSTEM_DIRS:
        return "system_folder"
    if name.startswith("."):
        return "hidden_folder"
    return None


def _stat_problem(path: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError) and os.path.islink(path):
        return "broken symlink: its target is missing"
    if exc.errno == errno.ELOOP:
        return "symlink loop: the link never reaches a file"
    return f"cannot stat: {exc.strerror or exc}"


def scan(
    roots: Iterable[str | os.PathLike[str]],
    problems: list[ScanProblem] | None = None,
    skipped: Counter[str] | None = None,
    leave_out: Callable[[str, int], str | None] | None = None,
) -> Iterator[ScannedFile]:
    """Yield every image file below ``roots`` (or the roots themselves if they are files).

    Paths are absolute and normalised, each file is yielded once even when roots overlap
    or links lead to it twice (one path per (device, inode)), directories are identified
    by (device, inode) so symlink loops end, and unreadable folders, broken links and
    image-named entries that are not regular files (FIFOs, sockets, devices) are recorded
    in ``problems`` instead of stopping the walk. ``skipped`` counts, by ``SKIP_REASONS``
    key, what was left out on purpose. ``leave_out(path, size)`` may leave a photo out too
    (``core.file_filter``): it returns the ``SKIP_REASONS`` key it is counted under, or None.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int] | str] = set()  # (device, inode), or the path if unknown
    later_dirs: list[str] = []  # symlinked folders: walked after every real one
    later_files: list[tuple[str, os.stat_result]] = []  # symlinked files, likewise
    problem = (lambda p, r: problems.append(ScanProblem(p, r))) if problems is not None else (lambda p, r: None)
    skip = skipped.update if skipped is not None else (lambda keys: None)

    def file_key(path: str, st: os.stat_result) -> tuple[int, int] | str:
        return (st.st_dev, st.st_ino) if st.st_ino else path

    def take(path: str, st: os.stat_result) -> ScannedFile | None:
        if not stat.S_ISREG(st.st_mode):
            problem(path, not_regular_reason(st.st_mode))
            return None
        key = file_key(path, st)
        if key in seen_files or path in seen_files:
            if path not in seen_files:  # another path to it (not the same path twice)
                skip(["same_file"])
            return None
        why = leave_out(path, st.st_size) if leave_out is not None else None
        if why is not None:  # left out on purpose (e.g. --exclude): another path to it may be taken
            seen_files.add(path)
            skip([why])
            return None
        seen_files.update((key, path))
        return ScannedFile(path, st.st_size, st.st_mtime_ns)

    def walk(start: str) -> Iterator[ScannedFile]:
        stack = [start]
        while stack:
            folder = stack.pop()
            try:
                dst = os.stat(folder)
            except OSError as exc:
                problem(folder, f"cannot open folder: {exc.strerror}")
                continue
            key = (dst.st_dev, dst.st_ino)
            if key in seen_dirs:
                continue
            seen_dirs.add(key)
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                problem(folder, f"cannot list folder: {exc.strerror}")
                continue
            subdirs: list[str] = []
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=True):
                        reason = _skip_dir(entry.name)
                        if reason:
                            skip([reason])
                        elif entry.is_symlink():
                            later_dirs.append(entry.path)
                        else:
                            subdirs.append(entry.path)
                        continue
                    if entry.name.startswith("._"):
                        skip(["appledouble"])
                        continue
                    if not is_image_name(entry.name):
                        skip(["not_a_photo"])
                        continue
                    est = entry.stat(follow_symlinks=True)
                except OSError as exc:
                    problem(entry.path, _stat_problem(entry.path, exc))
                    continue
                if entry.is_symlink():
                    later_files.append((entry.path, est))
                    continue
                found = take(entry.path, est)
                if found is not None:
                    yield found
            stack.extend(reversed(subdirs))

    for root in roots:
        root_path = os.path.abspath(os.fspath(root))
        try:
            st = os.stat(root_path)
        except OSError as exc:
            problem(root_path, f"cannot open: {exc.strerror or exc}")
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from walk(root_path)
        elif not is_image_name(root_path):
            continue  # a file given by name that is not a photo (the CLI explains)
        elif os.path.islink(root_path):
            later_files.append((root_path, st))
        else:
            found = take(root_path, st)
            if found is not None:
                yield found
    while later_dirs or later_files:
        while later_dirs:
            yield from walk(later_dirs.pop(0))
        pending, later_files[:] = list(later_files), []
        for path, st in pending:
            found = take(path, st)
            if found is not None:
                yield found
