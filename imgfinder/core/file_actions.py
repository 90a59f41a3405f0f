"""Move photos the user chose to remove: to the system trash or into a folder, undoably.

Users' photos are never deleted and never rewritten: a move is a rename (or, across
devices, a verified copy then unlink), a destination is never overwritten (unique names),
files under reference folders are refused, and every move is logged in the catalog so
``undo_last`` can put the files back. The trash follows the freedesktop.org Trash
specification (what GNOME, KDE and most file managers use), so trashed photos can also be
restored from the desktop's own trash.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .catalog import Catalog

TRASH = "trash"
MOVE = "move"


class RefusedError(Exception):
    """A file the user asked to move must not be moved (e.g. under a reference folder)."""


@dataclass
class ActionResult:
    """What a trash/move/undo did: (source, destination) pairs and per-file failures."""

    done: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    batch: int | None = None
    bytes: int = 0


def is_under(path: str, folders: Iterable[str]) -> bool:
    """True if ``path`` is one of ``folders`` or inside one of them."""
    path = os.path.abspath(path)
    for folder in folders:
        folder = os.path.abspath(folder)
        if path == folder or path.startswith(folder.rstrip(os.sep) + os.sep):
            return True
    return False


def home_trash() -> Path:
    """``$XDG_DATA_HOME/Trash`` (default ``~/.local/share/Trash``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "Trash"


def in_trash(path: str) -> bool:
    """True for files inside a freedesktop trash (home or per-device), which the GUI hides."""
    parts = Path(path).parts
    for i, part in enumerate(parts[:-1]):
        if parts[i + 1] == "files" and (
            part == "Trash" or part.startswith(".Trash-") or (i > 0 and parts[i - 1] == ".Trash")
        ):
            return True
    return False


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _mount_point(path: str) -> Path:
    p = Path(os.path.abspath(path))
    dev = os.lstat(p).st_dev
    while p.parent != p and os.lstat(p.parent).st_dev == dev:
        p = p.parent
    return p


def trash_dir_for(path: str) -> tuple[Path, Path | None]:
    """(trash directory, top dir for relative paths or None) for a file, per the spec."""
    home = home_trash()
    if os.lstat(path).st_dev == os.stat(_existing_ancestor(home)).st_dev:
        return home, None
    top = _mount_point(path)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    admin = top / ".Trash"
    try:
        st = os.lstat(admin)
        if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
            return admin / str(uid), top
    except OSError:
        pass
    return top / f".Trash-{uid}", top


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem (n).ext`` if that already exists."""
    candidate = folder / name
    stem, ext = os.path.splitext(name)
    n = 1
    while os.path.lexists(candidate):
        candidate = folder / f"{stem} ({n}){ext}"
        n += 1
    return candidate


def move_no_clobber(src: str, dst: str) -> None:
    """Move ``src`` to ``dst``; never overwrites; copies then unlinks across devices."""
    try:
        os.link(src, dst)  # atomic and fails if dst exists
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "destination exists", dst) from None
        try:
            os.rename(src, dst)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        with open(src, "rb") as fin, open(dst, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        shutil.copystat(src, dst)
        if os.path.getsize(dst) != os.path.getsize(src):
            os.unlink(dst)
            raise OSError(errno.EIO, "copy is incomplete", dst) from None
        os.unlink(src)
        return
    os.unlink(src)


def _trashinfo_path(trashed: Path) -> Path:
    return trashed.parent.parent / "info" / (trashed.name + ".trashinfo")


def trash_file(path: str) -> str:
    """Move one file to its trash; returns where it went."""
    path = os.path.abspath(path)
    trash, top = trash_dir_for(path)
    files, info = trash / "files", trash / "info"
    for d in (files, info):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem, ext = os.path.splitext(os.path.basename(path))
    n = 0
    while True:  # reserve a name by creating its .trashinfo exclusively, as the spec says
        name = os.path.basename(path) if n == 0 else f"{stem}.{n}{ext}"
        try:
            fd = os.open(info / (name + ".trashinfo"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            n += 1
            continue
        if os.path.lexists(files / name):
            os.close(fd)
            os.unlink(info / (name + ".trashinfo"))
            n += 1
            continue
        break
    original = os.path.relpath(path, top) if top is not None else path
    text = "[Trash Info]\nPath={}\nDeletionDate={}\n".format(
        quote(os.fsencode(original), safe=b"/"), time.strftime("%Y-%m-%dT%H:%M:%S")
    )
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    try:
        move_no_clobber(path, str(files / name))
    except BaseException:
        os.unlink(info / (name + ".trashinfo"))
        raise
    return str(files / name)


class FileMover:
    """Trash or move catalogued photos, log each batch, and undo the last batch."""

    def __init__(self, catalog: Catalog, reference_folders: Sequence[str] = ()) -> None:
        self.catalog = catalog
        self.reference_folders = [os.path.abspath(f) for f in reference_folders]

    def _check(self, paths: Sequence[str]) -> None:
        refused = [p for p in paths if is_under(p, self.reference_folders)]
        if refused:
            raise RefusedError(f"{len(refused)} file(s) are in reference folders, e.g. {refused[0]}")

    def trash(self, paths: Sequence[str]) -> ActionResult:
        return self._run(TRASH, paths, None)

    def move_to(self, paths: Sequence[str], folder: str) -> ActionResult:
        folder = os.path.abspath(folder)
        if is_under(folder, self.reference_folders):
            raise RefusedError(f"{folder} is a reference folder")
        os.makedirs(folder, exist_ok=True)
        return self._run(MOVE, paths, folder)

    def _run(self, action: str, paths: Sequence[str], folder: str | None) -> ActionResult:
        paths = [os.path.abspath(p) for p in paths]
        self._check(paths)
        result = ActionResult()
        for src in paths:
            try:
                size = os.lstat(src).st_size
                if folder is None:
                    dst = trash_file(src)
                else:
                    dst = str(unique_path(Path(folder), os.path.basename(src)))
                    move_no_clobber(src, dst)
            except OSError as exc:
                result.failed.append((src, exc.strerror or str(exc)))
                continue
            result.done.append((src, dst))
            result.bytes += size
            self.catalog.rename_path(src, dst)
        if result.done:
            result.batch = self.catalog.log_actions([(action, s, d) for s, d in result.done])
        return result

    def undo_last(self) -> ActionResult:
        """Put back the files of the newest batch not undone yet (never over another file)."""
        result = ActionResult()
        last = self.catalog.last_action_batch()
        if last is None:
            return result
        result.batch, entries = last
        undone: list[int] = []
        for action_id, action, src, dst in entries:
            if dst is None or not os.path.lexists(dst):
                result.failed.append((src, "the moved file is gone"))
                undone.append(action_id)
                continue
            target = src
            if os.path.lexists(target):
                target = str(unique_path(Path(src).parent, os.path.basename(src)))
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                size = os.lstat(dst).st_size
                move_no_clobber(dst, target)
            except OSError as exc:
                result.failed.append((src, exc.strerror or str(exc)))
                continue
            if action == TRASH:
                try:
                    os.unlink(_trashinfo_path(Path(dst)))
                except OSError:
                    pass
            self.catalog.rename_path(dst, target)
            result.done.append((dst, target))
            result.bytes += size
            undone.append(action_id)
        self.catalog.mark_undone(undone)
        return result
