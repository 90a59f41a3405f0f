"""Find image files under one or more roots without following symlink loops."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
)

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


def _skip_dir(name: str) -> bool:
    return name.startswith(".") or name in SYSTEM_DIRS


def scan(
    roots: Iterable[str | os.PathLike[str]],
    problems: list[ScanProblem] | None = None,
) -> Iterator[ScannedFile]:
    """Yield every image file below ``roots`` (or the roots themselves if they are files).

    Paths are absolute and normalised, each file is yielded once even when roots overlap,
    directories are identified by (device, inode) so symlink loops end, and unreadable
    folders are recorded in ``problems`` instead of stopping the walk.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    for root in roots:
        root_path = os.path.abspath(os.fspath(root))
        try:
            st = os.stat(root_path)
        except OSError as exc:
            if problems is not None:
                problems.append(ScanProblem(root_path, f"cannot open: {exc.strerror or exc}"))
            continue
        if not os.path.isdir(root_path):
            if is_image_name(root_path) and root_path not in seen_files:
                seen_files.add(root_path)
                yield ScannedFile(root_path, st.st_size, st.st_mtime_ns)
            continue
        stack = [root_path]
        while stack:
            folder = stack.pop()
            try:
                dst = os.stat(folder)
            except OSError as exc:
                if problems is not None:
                    problems.append(ScanProblem(folder, f"cannot open folder: {exc.strerror}"))
                continue
            key = (dst.st_dev, dst.st_ino)
            if key in seen_dirs:
                continue
            seen_dirs.add(key)
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                if problems is not None:
                    problems.append(ScanProblem(folder, f"cannot list folder: {exc.strerror}"))
                continue
            subdirs: list[str] = []
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=True):
                        if not _skip_dir(entry.name):
                            subdirs.append(entry.path)
                        continue
                    if not is_image_name(entry.name) or entry.name.startswith("._"):
                        continue
                    est = entry.stat(follow_symlinks=True)
                except OSError as exc:
                    if problems is not None:
                        problems.append(ScanProblem(entry.path, f"cannot stat: {exc.strerror}"))
                    continue
                if entry.path in seen_files:
                    continue
                seen_files.add(entry.path)
                yield ScannedFile(entry.path, est.st_size, est.st_mtime_ns)
            stack.extend(reversed(subdirs))
