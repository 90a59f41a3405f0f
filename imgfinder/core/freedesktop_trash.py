"""The freedesktop.org trash (what GNOME, KDE and most Linux file managers use): where a
file's trash is (the home trash, or its device's top-level one when that is a safe private
folder), and the .trashinfo that lets the desktop restore it too."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes


def home_trash() -> Path:
    """``$XDG_DATA_HOME/Trash`` (default ``~/.local/share/Trash``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "Trash"


def in_trash(path: str) -> bool:
    """True for files inside a freedesktop trash (home or per-device), which the GUI hides."""
    if "Trash" not in path:  # nearly every path: no parsing (100,000 paths: 0.05 s, not 0.5 s)
        return False
    parts = Path(path).parts
    for i, part in enumerate(parts[:-1]):
        if parts[i + 1] == "files" and (
            part == "Trash" or part.startswith(".Trash-") or (i > 0 and parts[i - 1] == ".Trash")
        ):
            return True
    return False


def _device(path: Path) -> int:
    return os.stat(path).st_dev


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


def _private_dir_problem(path: Path, create: bool) -> str | None:
    """Why ``path`` cannot be a user's trash folder (None if it can): the freedesktop spec
    (and GLib) accept only a real folder, not a symbolic link, owned by the user and
    private (0700). Anyone who can write a disk's top folder could otherwise plant a link
    there and receive the photos. ``create``: make it (0700) if it is missing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return "does not exist"
        try:
            os.mkdir(path, 0o700)
            st = os.lstat(path)
        except OSError as exc:
            return f"cannot be created ({exc.strerror or exc})"
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return "belongs to another user"
    if stat.S_IMODE(st.st_mode) & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(st.st_mode):04o}, not 0700)"
    return None


class UnsafeTrash(OSError):
    """A per-device trash folder fails the spec's checks (its reason in ``strerror``)."""


def trash_dir_for(path: str) -> tuple[Path, Path | None]:
    """(trash directory, top dir for relative paths or None) for a file, per the spec.

    On another device than the home trash: ``$topdir/.Trash/$uid`` when ``$topdir/.Trash``
    is a real sticky folder and ``$uid`` in it passes the checks, else ``$topdir/.Trash-$uid``
    if it passes them (made if missing); otherwise the home trash (the photo is copied
    there, across devices). A trash that fails the checks is never used."""
    home = home_trash()
    if os.lstat(path).st_dev == os.stat(_existing_ancestor(home)).st_dev:
        return home, None
    top = _mount_point(path)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    admin = top / ".Trash"
    try:
        st = os.lstat(admin)
        if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
            if _private_dir_problem(admin / str(uid), create=True) is None:
                return admin / str(uid), top
    except OSError:
        pass
    own = top / f".Trash-{uid}"
    if _private_dir_problem(own, create=True) is None:
        return own, top
    return home, None


def trash_problem(trash: Path) -> str | None:
    """Why the trash folder ``trash`` must not be used now (None: it may): a per-device
    trash must pass the spec's checks itself; in any trash, ``files`` and ``info`` must be
    real folders of the user (never links that lead the photos elsewhere)."""
    if _trash_topdir(trash) is not None:
        problem = _private_dir_problem(trash, create=False)
        if problem is not None:
            return f"the trash folder {trash} {problem}"
    for folder in (trash / "files", trash / "info"):
        problem = _private_dir_problem(folder, create=False)
        if problem is not None and not problem.startswith("is open to other users"):
            return f"the trash folder {folder} {problem}"
    return None


def _trashinfo_path(trashed: Path) -> Path:
    return trashed.parent.parent / "info" / (trashed.name + ".trashinfo")


def _trash_topdir(trash: Path) -> Path | None:
    """The top directory relative paths in a per-device trash are relative to (None: home)."""
    if trash.name.startswith(".Trash-"):
        return trash.parent
    if trash.parent.name == ".Trash":
        return trash.parent.parent
    return None


def _trashinfo_text(path: str, top: Path | None) -> bytes:
    original = os.path.relpath(path, top) if top is not None else path
    return "[Trash Info]\nPath={}\nDeletionDate={}\n".format(
        quote(os.fsencode(original), safe=b"/"), time.strftime("%Y-%m-%dT%H:%M:%S")
    ).encode("ascii")


def _trashinfo_original(data: bytes, trash: Path) -> str | None:
    """The original path a .trashinfo names (absolute), or None if it names none."""
    for line in data.decode("ascii", "replace").splitlines():
        if line.startswith("Path="):
            original = os.fsdecode(unquote_to_bytes(line[5:].strip()))
            top = _trash_topdir(trash)
            if not os.path.isabs(original) and top is not None:
                original = os.path.join(top, original)
            return os.path.abspath(original)
    return None
