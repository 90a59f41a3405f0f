"""Move photos the user chose to remove: to the system trash or into a folder, undoably.

Users' photos are never deleted and never rewritten. Each file is moved all or nothing
(``safe_move``): checked against what the scan saw (size, mtime, content hash), linked
or renamed on the same device, or copied to a temporary name, checked and renamed into
place on another device; the original is removed last. A destination is never replaced
(unique names, no-replace renames), files under reference folders are refused, and every
batch is logged in the catalog so ``undo_last`` can put the files back, all or nothing
per file as well. Any failure or interruption removes exactly what was created (temporary
copy, new name, .trashinfo, folders made for it) and leaves the original where it was;
each file that was not moved gets its own reason.

The trash follows the freedesktop.org Trash specification (what GNOME, KDE and most file
managers use): the .trashinfo is created first, exclusively, to reserve the name, then the
file goes to ``files/``; so trashed photos can also be restored from the desktop's trash.
On Windows and macOS the trash is the system's (``system_trash``): photos go in through its
API, journaled the same way, and undo says how to restore them from there.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from .catalog import DONE, PENDING, UNDOING, Catalog, JournalEntry
from .safe_move import (
    TEMP_PREFIX, Expected, Skipped, Transfer, check_unchanged, file_hash, fsync_dir, identity, is_temp_name,
    sweep_stale_temps,
)
from . import system_trash
from .system_trash import SYSTEM_TRASH, Sender, trash_name, uses_system_trash

TRASH = "trash"
MOVE = "move"
# A byte-identical copy replaced by a hard link to the copy kept: the copy goes to the trash
# (so undo can put it back) and the link takes its path (``FileMover.replace_with_links``).
LINK = "link"
_TO_TRASH = (TRASH, LINK)  # actions whose destination is a freedesktop trash entry


MAX_NAME_TRIES = 1000


class RefusedError(Exception):
    """A file the user asked to move must not be moved (e.g. under a reference folder)."""


class NotDone(Exception):
    """One file was not moved (or not put back); ``reason`` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ActionResult:
    """What a trash/move/undo did: (source, destination) pairs and per-file failures."""

    done: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why it was left alone)
    batch: int | None = None
    bytes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, destination) set aside by undo --skip
    # Photos an undo found in the system's trash (Windows, macOS): it cannot take them out,
    # says how to (``system_trash.restore_hint``) and sets their entries aside.
    in_system_trash: list[str] = field(default_factory=list)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def is_under(path: str, folders: Iterable[str]) -> bool:
    """True if ``path`` is one of ``folders`` or inside one of them, as written or by real
    path: a folder reached through a symlink (``~/Pictures -> /data/photos``) protects
    the same files as its target, and a file reached through a link is where it really is."""
    plain, real = os.path.abspath(path), os.path.realpath(path)
    for folder in folders:
        if _inside(plain, os.path.abspath(folder)) or _inside(real, os.path.realpath(folder)):
            return True
    return False


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


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem (n).ext`` if that already exists."""
    candidate = folder / name
    stem, ext = os.path.splitext(name)
    n = 1
    while os.path.lexists(candidate):
        candidate = folder / f"{stem} ({n}){ext}"
        n += 1
    return candidate


# -- small all-or-nothing helpers ------------------------------------------------------------
def _why(exc: BaseException, transfer: Transfer | None = None) -> str:
    if isinstance(exc, Skipped):
        text = exc.reason
    elif isinstance(exc, OSError):
        step = transfer.step if transfer is not None else "do it"
        text = f"could not {step}: {exc.strerror or exc}"
    else:
        text = str(exc)
    if transfer is not None and transfer.leftovers:
        text += "; could not remove " + ", ".join(transfer.leftovers)
    return text


def _remove_created(path: Path, ident: tuple[int, int] | None) -> str | None:
    """Remove a file this module created (still the same one); returns a problem or None."""
    try:
        if ident is None or identity(path) == ident:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"{path} ({exc.strerror or exc})"
    return None


def _write_new(path: Path, data: bytes) -> tuple[int, int]:
    """Create ``path`` holding ``data`` (FileExistsError if it exists), durably; on any
    failure it is removed again. Returns its (device, inode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        raise  # not created
    except BaseException:  # interrupted right after creating it: an empty file is ours
        try:
            if os.lstat(path).st_size == 0:
                os.unlink(path)
        except OSError:
            pass
        raise
    ident = None
    try:
        try:
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _remove_created(path, ident)
        raise
    assert ident is not None
    return ident


def _make_dirs(folder: Path, mode: int = 0o777) -> list[Path]:
    """Create ``folder`` and missing parents; returns those created (to remove on failure)."""
    missing = []
    p = folder
    while not os.path.lexists(p) and p.parent != p:
        missing.append(p)
        p = p.parent
    created: list[Path] = []
    try:
        for d in reversed(missing):
            created.append(d)  # before mkdir: an interruption just after it must still remove it
            try:
                os.mkdir(d, mode)
            except FileExistsError:
                created.pop()  # made by someone else meanwhile
    except BaseException:
        _remove_dirs(created)
        raise
    return created


def _make_trash(trash: Path) -> list[Path]:
    """Make the trash's ``info`` and ``files`` folders (private, as the spec says)."""
    created = _make_dirs(trash / "info", 0o700)
    try:
        created += _make_dirs(trash / "files", 0o700)
    except BaseException:
        _remove_dirs(created)
        raise
    return created


def _remove_dirs(created: list[Path]) -> None:
    """Remove folders made for a failed action, if still empty."""
    for d in reversed(created):
        try:
            os.rmdir(d)
        except OSError:
            pass


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


@dataclass
class _Moved:
    """One file moved (or put back): enough to reverse it exactly."""

    src: str
    dst: str
    size: int
    expected: Expected
    info: bytes | None = None  # the .trashinfo written for (or removed with) a trashed file
    action_id: int | None = None
    created: list[Path] = field(default_factory=list)  # folders made for it (removed if it goes back)


def _forward(action: str, src: str, dst: str, expected: Expected, info: bytes | None,
             on_done: Callable[[], None]) -> None:
    """Move ``src`` to exactly ``dst``; for the trash, reserve the name with its .trashinfo
    first (the spec's order). FileExistsError if the name is taken (nothing changed);
    :class:`NotDone` if it failed (nothing changed); ``on_done`` runs once the photo is at
    ``dst`` (also when an interruption came just after that)."""
    info_path = info_id = None
    if action in _TO_TRASH:
        assert info is not None
        info_path = _trashinfo_path(Path(dst))
        if os.path.lexists(dst):
            raise FileExistsError(dst)
        try:
            info_id = _write_new(info_path, info)
        except FileExistsError:
            raise
        except OSError as exc:
            raise NotDone(f"could not write its .trashinfo: {exc.strerror or exc}") from exc
    transfer = Transfer(src, dst, expected)
    try:
        transfer.run()
    except BaseException as exc:
        if not transfer.completed and info_path is not None:
            problem = _remove_created(info_path, info_id)
            if problem:
                transfer.leftovers.append(problem)
        if transfer.completed:
            on_done()
        if isinstance(exc, FileExistsError) and not transfer.completed:
            raise
        if isinstance(exc, (OSError, Skipped)):
            if transfer.completed:
                return
            raise NotDone(_why(exc, transfer)) from exc
        raise
    on_done()


def _backward(action: str, src: str, dst: str, expected: Expected,
              on_done: Callable[[bytes | None, list[Path]], None]) -> None:
    """Put the file at ``dst`` back at ``src`` (never over another file) and, for the trash,
    remove its .trashinfo; all or nothing. ``on_done(trashinfo bytes, folders made)`` runs
    once it is back."""
    if os.path.lexists(src):
        raise NotDone(f"cannot be put back: {src} is taken by another file now (it stays at {dst})")
    info_path = _trashinfo_path(Path(dst)) if action in _TO_TRASH else None
    info = None
    if info_path is not None:
        try:
            info = info_path.read_bytes()
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise NotDone(f"could not read its .trashinfo: {exc.strerror or exc}") from exc
        if info is not None and _trashinfo_original(info, Path(dst).parent.parent) != src:
            raise NotDone(f"the trash entry {dst} is not this photo any more (its .trashinfo names another file)")
    try:
        created = _make_dirs(Path(src).parent)
    except OSError as exc:
        raise NotDone(f"could not create the folder {os.path.dirname(src)}: {exc.strerror or exc}") from exc
    transfer = Transfer(dst, src, expected, since="it was moved")
    try:
        transfer.run()
    except BaseException as exc:
        if transfer.completed:
            _finish_restore(src, dst, info_path, info, created, on_done)
            if isinstance(exc, (OSError, Skipped)):
                return
            raise
        _remove_dirs(created)
        if isinstance(exc, (OSError, Skipped)):
            raise NotDone(_why(exc, transfer)) from exc
        raise
    _finish_restore(src, dst, info_path, info, created, on_done)


def _finish_restore(src: str, dst: str, info_path: Path | None, info: bytes | None, created: list[Path],
                    on_done: Callable[[bytes | None, list[Path]], None]) -> None:
    """The photo is back at ``src``: remove its .trashinfo, or if that fails, return the photo
    to the trash so the entry stays whole."""
    if info_path is None or info is None:
        on_done(info, created)
        return
    try:
        os.unlink(info_path)
    except BaseException as exc:
        if not os.path.lexists(info_path):  # removed after all (interrupted just after)
            on_done(info, created)
            if isinstance(exc, OSError):
                return
            raise
        back = Transfer(src, dst)  # into the trash again: the entry stays whole
        try:
            back.run()
        except BaseException as exc2:
            if not back.completed:  # it stays restored; the .trashinfo is an orphan
                on_done(info, created)
                if isinstance(exc2, (OSError, Skipped)):
                    raise NotDone(f"was put back, but its .trashinfo {info_path} could not be removed: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from exc2
                raise
            if not isinstance(exc2, (OSError, Skipped)):
                _remove_dirs(created)
                raise
        _remove_dirs(created)
        if isinstance(exc, OSError):
            raise NotDone(f"could not remove its .trashinfo: {exc.strerror or exc}; left in the trash") from exc
        raise
    on_done(info, created)


# -- one mover at a time per catalog ------------------------------------------------------------
@contextlib.contextmanager
def actions_lock(catalog: Catalog, wait: bool = True):  # -> Iterator[bool]
    """Hold the catalog's file-action lock (``flock``, released by the kernel when the holder
    dies, even by SIGKILL). Yields False when ``wait`` is False and another live process
    holds it: a recovery must never roll back the moves of a clean-up still running."""
    try:
        import fcntl
    except ImportError:  # Windows: one process at a time is the user's affair
        yield True
        return
    lock_path = str(catalog.path) + ".actions-lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a read-only data folder: nothing can be moved or logged anyway
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)  # releases the lock


# -- recovery: what a killed process left in flight --------------------------------------------
@dataclass
class Recovery:
    """What ``recover`` did: entries finished (kept for undo), rolled back, and notes."""

    finished: list[tuple[str, str]] = field(default_factory=list)  # (source, destination)
    rolled_back: list[str] = field(default_factory=list)  # sources left (or put back) in place
    notes: list[str] = field(default_factory=list)
    busy: bool = False  # another process is moving files: nothing was looked at

    def __bool__(self) -> bool:
        return bool(self.finished or self.rolled_back or self.notes)


def shared_folder(paths: Sequence[str]) -> str:
    """The deepest folder holding every one of ``paths``: what a move that keeps the folders
    keeps them below (CLI ``--keep-folders`` and the app's "Keep their folders" alike)."""
    return os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])


def kept_folder(src: str, roots: Sequence[str], folder: str) -> str:
    """Where ``src`` goes below ``folder`` to keep its place below the deepest of ``roots``
    holding it (``folder`` itself for a file under none of them)."""
    parent = os.path.dirname(src)
    for root in roots:
        if _inside(parent, root):
            rel = os.path.relpath(parent, root)
            return folder if rel == os.curdir else os.path.join(folder, rel)
    return folder


def _hash_of(path: str) -> str | None:
    try:
        return file_hash(path)[0]
    except OSError:
        return None


def _regular(path: str) -> os.stat_result | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _remove_info_naming(action: str, dst: str, src: str) -> None:
    """Remove the .trashinfo of trash entry ``dst`` if it names ``src`` (it is ours), or
    if it names nothing while ``dst`` holds no file: the reservation a kill cut short while
    it was being written (it is made, exclusively, just after the journal's intent)."""
    if action not in _TO_TRASH:
        return
    info = _trashinfo_path(Path(dst))
    try:
        original = _trashinfo_original(info.read_bytes(), Path(dst).parent.parent)
        if original == src or (original is None and not os.path.lexists(dst)):
            os.unlink(info)
    except OSError:
        pass


def _sweep_dead_temps(folder: str) -> None:
    """Remove temporary copies left in ``folder`` by imgfinder processes that are dead
    (the pid is in the name): never the only copy of a photo (see ``safe_move``)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not is_temp_name(entry.name):
            continue
        try:
            pid = int(entry.name[len(TEMP_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        except (ValueError, OSError):
            continue


def _known_hash(catalog: Catalog, entry: JournalEntry, *paths: str) -> str | None:
    """The content hash of an entry: the journal's, or (older logs) the catalog's."""
    if entry.hash is not None:
        return entry.hash
    for p in paths:
        row = catalog.row_for_path(p)
        if row is not None and row.hash:
            return row.hash
    return None


def recover(catalog: Catalog) -> Recovery:
    """Finish or roll back every journal entry a killed process left in flight, so every
    photo that left its place is back or logged for undo. Runs on ``undo``, ``index`` and
    the app's start; does nothing while another process is moving files (its lock)."""
    report = Recovery()
    if catalog.read_only:  # settling writes the log (and moves files): later
        waiting = len(catalog.in_flight())
        if waiting:
            report.notes.append(f"{waiting} move{'' if waiting == 1 else 's'} an interrupted clean-up or undo left "
                                "in flight will be settled once the data folder can be written again")
        return report
    with actions_lock(catalog, wait=False) as free:
        if not free:
            report.busy = True
            return report
        _recover_locked(catalog, report)
    return report


def _recover_locked(catalog: Catalog, report: Recovery) -> None:
    for e in catalog.in_flight():
        if e.damage or e.destination is None:
            report.notes.append(f"undo entry {e.id} is damaged ({e.damage}): left as it is ('imgfinder repair')")
            continue
        try:
            _recover_one(catalog, e, report)
        except (OSError, sqlite3.Error) as exc:  # one entry's trouble never stops the others
            report.notes.append(f"could not settle the interrupted move of {e.source}: "
                                f"{getattr(exc, 'strerror', None) or exc}")


def _recover_system_trash(catalog: Catalog, e: JournalEntry, report: Recovery) -> None:
    """A photo being handed to the system's trash when the process died: gone from its
    place, it is in the trash (logged, for undo to say so); still there, it never left."""
    if os.path.lexists(e.source):
        catalog.journal_drop(e.id)
        report.rolled_back.append(e.source)
    else:
        catalog.journal_state(e.id, DONE)
        report.finished.append((e.source, e.destination or e.source))


def _recover_link(catalog: Catalog, e: JournalEntry, report: Recovery) -> bool:
    """Settle a link entry where its files differ from a plain trash's; False: as a trash.

    Its copy and the trash are on one device (``replace_with_links`` asks that), so a file at
    both paths, not one inode, is the link made in the copy's place next to the copy in the
    trash: done if it was being made, still to undo if it was being undone. A copy in the
    trash whose link was never made goes back to its place: nothing happened to it."""
    assert e.destination is not None
    src, dst = e.source, e.destination
    s, d = _regular(src), _regular(dst)
    if s is not None and d is not None and (s.st_dev, s.st_ino) != (d.st_dev, d.st_ino):
        catalog.journal_state(e.id, DONE)
        if e.state == PENDING:
            with contextlib.suppress(Exception):
                catalog.rename_path(src, dst)
            report.finished.append((src, dst))
        else:
            report.rolled_back.append(dst)  # the undo had not begun: still to undo
        return True
    if e.state == PENDING and s is None and d is not None:
        digest = _known_hash(catalog, e, dst)
        try:
            _backward(LINK, src, dst, Expected(e.size, None, digest), lambda info, created: None)
        except NotDone as exc:
            catalog.journal_state(e.id, DONE)  # it stays in the trash, and undo can put it back
            report.notes.append(f"{src} was going to be replaced by a link; it is in the trash: {exc.reason}")
            return True
        catalog.journal_drop(e.id)
        report.rolled_back.append(src)
        return True
    return False


def _recover_one(catalog: Catalog, e: JournalEntry, report: Recovery) -> None:
    """Settle one entry left in flight by what the files show."""
    assert e.destination is not None
    if e.action == SYSTEM_TRASH:
        _recover_system_trash(catalog, e, report)
        return
    if e.action == LINK and _recover_link(catalog, e, report):
        return
    src, dst = e.source, e.destination
    _sweep_dead_temps(os.path.dirname(dst))
    _sweep_dead_temps(os.path.dirname(src))
    s, d = _regular(src), _regular(dst)
    same = s is not None and d is not None and (s.st_dev, s.st_ino) == (d.st_dev, d.st_ino)
    digest = _known_hash(catalog, e, src, dst)
    if e.state == PENDING:  # a move was under way: roll back unless the original is gone
        if same or (s is not None and d is None):
            if same:
                os.unlink(dst)
            _remove_info_naming(e.action, dst, src)
            catalog.journal_drop(e.id)
            report.rolled_back.append(src)
        elif s is None and d is not None:
            catalog.journal_state(e.id, DONE)
            with contextlib.suppress(Exception):
                catalog.rename_path(src, dst)
            report.finished.append((src, dst))
        elif s is not None and d is not None:  # a copy across devices, the original still there
            if digest is not None and _hash_of(dst) == digest and _hash_of(src) == digest:
                os.unlink(dst)
                _remove_info_naming(e.action, dst, src)
            else:
                report.notes.append(f"{dst} is another file than {src}: both left as they are")
            catalog.journal_drop(e.id)
            report.rolled_back.append(src)
        else:
            catalog.journal_state(e.id, DONE)  # undo will say where it went missing
            report.notes.append(f"{src} is neither at its place nor at {dst}")
    else:  # UNDOING: a file was being put back
        back = s is not None and (digest is None or _hash_of(src) == digest)
        if same or (back and d is None) or (
            back and d is not None and digest is not None and _hash_of(dst) == digest
        ):
            if d is not None:
                os.unlink(dst)
            _remove_info_naming(e.action, dst, src)
            catalog.mark_undone([e.id])
            with contextlib.suppress(Exception):
                catalog.rename_path(dst, src)
            report.finished.append((dst, src))
        else:
            catalog.journal_state(e.id, DONE)  # still to undo
            report.rolled_back.append(dst)


class FileMover:
    """Trash or move catalogued photos, journaling each move (durably, before it is made),
    and undo the last batch."""

    def __init__(self, catalog: Catalog, reference_folders: Sequence[str] = (), platform: str | None = None,
                 sender: Sender | None = None) -> None:
        """``platform`` (``sys.platform`` unless given) picks the trash: the system's on
        Windows and macOS, through ``sender`` (send2trash unless given), else freedesktop's."""
        self.catalog = catalog
        self.reference_folders = [os.path.abspath(f) for f in reference_folders]
        self.system_trash = uses_system_trash(platform)
        self.platform = platform
        self._sender = sender
        self._link_to: dict[str, str] = {}  # copy -> the copy kept it is replaced by a link to
        self._swept: set[Path | str] = set()  # trash and target folders cleaned of stale temporary copies
        self._batch: int | None = None
        self.recovery: Recovery | None = None  # what the last undo's recovery did first

    def _check(self, paths: Sequence[str]) -> None:
        refused = [p for p in paths if is_under(p, self.reference_folders)]
        if refused:
            raise RefusedError(f"{len(refused)} file(s) are in reference folders, e.g. {refused[0]}")

    def trash(self, paths: Sequence[str]) -> ActionResult:
        return self._run(TRASH, paths, None)

    def replace_with_links(self, pairs: Sequence[tuple[str, str]]) -> ActionResult:
        """For each (copy, copy kept): the copy, byte-identical to the one kept and on its
        file system, goes to the trash and a hard link to the one kept takes its path, so
        the photo is still found there and takes its space once; as one batch that undo
        takes back (the link removed, the copy put back). The copy kept is never touched.
        A copy that differs from the one kept in a single byte is left alone: a link would
        change the picture at its path."""
        if self.system_trash:
            raise RefusedError("replacing copies by links needs the freedesktop trash: on this system, "
                               "use Trash or Move")
        self._link_to = {os.path.abspath(c): os.path.abspath(k) for c, k in pairs}
        try:
            return self._run(LINK, list(self._link_to), None)
        finally:
            self._link_to = {}

    def move_to(self, paths: Sequence[str], folder: str, keep_folders_of: Sequence[str] = ()) -> ActionResult:
        """Move ``paths`` into ``folder``, as one batch. With ``keep_folders_of`` (folders
        the files lie below; the CLI passes the one all moved files share), a file keeps its
        place below the deepest of them holding it: ``ROOT/a/x.jpg`` lands in
        ``folder/a/x.jpg``, so moved copies can be reviewed and put back by hand."""
        folder = os.path.abspath(folder)
        if is_under(folder, self.reference_folders):
            raise RefusedError(f"{folder} is a reference folder")
        os.makedirs(folder, exist_ok=True)
        roots = sorted((os.path.abspath(r) for r in keep_folders_of), key=len, reverse=True)
        if not roots:
            return self._run(MOVE, paths, folder)
        return self._run(MOVE, paths, folder, lambda src: kept_folder(src, roots, folder))

    # -- acting ------------------------------------------------------------------------------
    def _run(self, action: str, paths: Sequence[str], folder: str | None,
             folder_for: Callable[[str], str] | None = None) -> ActionResult:
        """One batch (one undo puts it all back); ``folder_for``: each file's own folder
        below ``folder`` (made when first used)."""
        paths = [os.path.abspath(p) for p in paths]
        self._check(paths)
        result = ActionResult()
        self._swept.clear()
        self._batch = None
        with actions_lock(self.catalog):
            if folder is not None:
                sweep_stale_temps(folder)
            try:
                for src in paths:
                    try:
                        target = folder
                        if folder_for is not None:
                            target = self._own_folder(folder_for(src))
                        self._act(action, src, target, result)
                    except NotDone as exc:
                        result.failed.append((src, exc.reason))
            finally:
                result.batch = self._batch
        return result

    def _own_folder(self, target: str) -> str:
        if is_under(target, self.reference_folders):
            raise NotDone(f"{target} is in a reference folder: not moved there")
        if target not in self._swept:
            try:
                os.makedirs(target, exist_ok=True)
            except OSError as exc:
                raise NotDone(f"could not create {target}: {exc.strerror or exc}") from exc
            self._swept.add(target)
            sweep_stale_temps(target)
        return target

    def _expected(self, src: str) -> Expected:
        row = self.catalog.row_for_path(src)
        if row is None:
            raise NotDone("is not in the library (any more): scan its folder again")
        digest = row.hash
        if digest is None:  # a file that could not be decoded has no catalogued hash: undo needs one
            digest = _hash_of(src)
            if digest is None:
                raise NotDone("could not be read to record its content for undo, so it was left in place")
        return Expected(row.size, row.mtime_ns, digest)

    def _act(self, action: str, src: str, folder: str | None, result: ActionResult) -> None:
        """Move one file (a fresh name if the chosen one is taken meanwhile), journaled."""
        if not os.path.lexists(src):
            raise NotDone("is no longer there")
        expected = self._expected(src)
        size = expected.size or 0
        if action == TRASH and self.system_trash:
            self._to_system_trash(src, expected, result)
            return
        keeper = self._link_target(src, expected) if action == LINK else None
        if action in _TO_TRASH:
            if in_trash(src):
                raise NotDone("is already in the trash")
            try:
                trash, top = trash_dir_for(src)
            except OSError as exc:
                raise NotDone(f"could not find its trash: {exc.strerror or exc}") from exc
            if keeper is not None and _device(_existing_ancestor(trash)) != _device(Path(src)):
                raise NotDone("its trash is on another file system, so the copy could not wait there for "
                              "an undo: not replaced (use Trash or Move)")
            files = trash / "files"
            try:
                created = _make_trash(trash)
            except OSError as exc:
                raise NotDone(f"could not create the trash folder {trash}: {exc.strerror or exc}") from exc
            problem = trash_problem(trash)
            if problem is not None:
                _remove_dirs(created)
                raise NotDone(f"not moved: {problem} (the trash must be a private folder of yours)")
            if files not in self._swept:
                self._swept.add(files)
                sweep_stale_temps(files)
            info = _trashinfo_text(src, top)
            stem, ext = os.path.splitext(os.path.basename(src))
            names = (os.path.basename(src) if n == 0 else f"{stem}.{n}{ext}" for n in range(MAX_NAME_TRIES))
            candidates: Iterable[str] = (str(files / name) for name in names)
        else:
            assert folder is not None
            if os.path.dirname(src) == folder:
                raise NotDone(f"is already in {folder}")
            created, info = [], None
            candidates = (str(unique_path(Path(folder), os.path.basename(src))) for _ in range(MAX_NAME_TRIES))
        moved = False
        try:
            for dst in candidates:
                if os.path.lexists(dst) or (info is not None and os.path.lexists(_trashinfo_path(Path(dst)))):
                    continue  # taken: no intent to log
                try:
                    self._batch, entry = self.catalog.journal_intent(
                        self._batch, action, src, dst, expected.hash, expected.size)
                except Exception as exc:  # noqa: BLE001 - a move that cannot be undone is not made
                    raise NotDone(f"could not be recorded for undo ({exc}), so it was left in place") from exc
                at_dst: list[bool] = []
                try:
                    _forward(action, src, dst, expected, info, lambda: at_dst.append(True))
                except FileExistsError:
                    self._forget(entry)
                    continue  # the name was taken meanwhile (by another program): the next one
                except NotDone:
                    self._forget(entry)
                    raise
                except BaseException:
                    # Interrupted (Ctrl+C, SIGTERM): settle the entry as the files are; if
                    # even that is cut short, ``recover`` settles it on the next start.
                    if at_dst:
                        moved = True
                        self._moved(entry, src, dst, size, result)
                    else:
                        self._forget(entry)
                    raise
                moved = True
                if keeper is not None:
                    self._link_in_place(entry, src, dst, keeper[0], keeper[1], expected, result)
                else:
                    self._moved(entry, src, dst, size, result)
                return
            raise NotDone("no free name for it in the destination")
        finally:
            if not moved:
                _remove_dirs(created)

    def _link_target(self, src: str, expected: Expected) -> tuple[str, os.stat_result]:
        """The copy kept that ``src`` is to be a link to, checked: a regular file of the
        library on the same file system, byte-identical to ``src`` as it was scanned."""
        keeper = self._link_to[src]
        st = _regular(keeper)
        if st is None:
            raise NotDone(f"the copy kept, {keeper}, is no longer a regular file there: not replaced")
        src_st = os.lstat(src)
        if (st.st_dev, st.st_ino) == (src_st.st_dev, src_st.st_ino):
            raise NotDone(f"is already the same file as {keeper}")
        if st.st_dev != src_st.st_dev:
            raise NotDone(f"is on another file system than the copy kept, {keeper}: a hard link cannot "
                          "reach across (use Trash or Move)")
        if self.catalog.row_for_path(keeper) is None:
            raise NotDone(f"the copy kept, {keeper}, is not in the library: not replaced")
        try:
            digest, n = file_hash(keeper)
        except OSError as exc:
            raise NotDone(f"the copy kept, {keeper}, could not be read: {exc.strerror or exc}") from exc
        if digest != expected.hash or n != expected.size:
            raise NotDone(f"is not byte-identical to the copy kept, {keeper}: a link would change the picture "
                          "at its path, so it was left alone (use Trash or Move)")
        return keeper, st

    def _link_in_place(self, entry: int, src: str, dst: str, keeper: str, keeper_st: os.stat_result,
                       expected: Expected, result: ActionResult) -> None:
        """The copy is in the trash: make the link at its path, or, if that fails, put the
        copy back (nothing happened to it) and say why."""
        why = None
        now = _regular(keeper)
        if now is None or (now.st_ino, now.st_size, now.st_mtime_ns) != (
                keeper_st.st_ino, keeper_st.st_size, keeper_st.st_mtime_ns):
            why = f"{keeper} changed meanwhile"
        else:
            try:
                os.link(keeper, src, follow_symlinks=False)
                fsync_dir(os.path.dirname(src))
            except OSError as exc:
                why = exc.strerror or str(exc)
        if why is None:
            self._moved(entry, src, dst, expected.size or 0, result)
            return
        try:
            _backward(LINK, src, dst, Expected(expected.size, None, expected.hash), lambda info, created: None)
        except NotDone as exc:
            self._moved(entry, src, dst, expected.size or 0, result)  # in the trash; undo puts it back
            raise NotDone(f"could not be replaced by a link ({why}) and stays in the trash ({exc.reason}); "
                          "undo puts it back") from exc
        self._forget(entry)
        raise NotDone(f"could not be replaced by a link to {keeper} ({why}): left as it was")

    def _to_system_trash(self, src: str, expected: Expected, result: ActionResult) -> None:
        """Hand ``src`` to the system's trash once it is checked to be what was scanned
        (size, time, content), journaled before it goes. The system names the place it takes
        the photo to and tells nobody: the journal keeps the photo's own path."""
        try:
            st = check_unchanged(src, expected)
            digest, n = file_hash(src)
        except Skipped as exc:
            raise NotDone(exc.reason) from exc
        except OSError as exc:
            raise NotDone(f"could not be read to check it: {exc.strerror or exc}") from exc
        if digest != expected.hash or n != st.st_size:
            raise NotDone("its content changed since it was scanned")
        try:
            self._batch, entry = self.catalog.journal_intent(
                self._batch, SYSTEM_TRASH, src, src, expected.hash, expected.size)
        except Exception as exc:  # noqa: BLE001 - a move that is not logged is not made
            raise NotDone(f"could not be recorded ({exc}), so it was left in place") from exc
        sender = self._sender or system_trash.default_sender()
        try:
            sender(src)
        except BaseException as exc:
            if os.path.lexists(src):  # it never left
                self._forget(entry)
                if isinstance(exc, Exception):
                    raise NotDone(f"{trash_name(self.platform)} refused it: {exc}") from exc
                raise
            self._moved_to_system(entry, src, expected.size or 0, result)
            if isinstance(exc, Exception):
                return
            raise
        if os.path.lexists(src):
            self._forget(entry)
            raise NotDone(f"is still here: {trash_name(self.platform)} did not take it")
        self._moved_to_system(entry, src, expected.size or 0, result)

    def _moved_to_system(self, entry: int, src: str, size: int, result: ActionResult) -> None:
        result.done.append((src, trash_name(self.platform)))
        result.bytes += size
        with contextlib.suppress(Exception):
            self.catalog.journal_state(entry, DONE)
        with contextlib.suppress(Exception):
            self.catalog.remove_paths([src])

    def _forget(self, entry: int) -> None:
        """The file did not move: drop its intent (left to ``recover`` if that fails)."""
        with contextlib.suppress(Exception):
            self.catalog.journal_drop(entry)

    def _moved(self, entry: int, src: str, dst: str, size: int, result: ActionResult) -> None:
        """The file is at ``dst``: its entry is done (``recover`` does it if this fails) and
        the catalog follows it."""
        result.done.append((src, dst))
        result.bytes += size
        with contextlib.suppress(Exception):
            self.catalog.journal_state(entry, DONE)
        with contextlib.suppress(Exception):
            self.catalog.rename_path(src, dst)

    # -- undoing -----------------------------------------------------------------------------
    def undo_last(self, skip: bool = False) -> ActionResult:
        """Put back the files of the newest batch not undone yet, never over another file.

        What a killed process left in flight is settled first (``recover``). A file whose
        original path is taken now stays where it is, with a reason, and stays in the log
        (undo again once the path is free); a file that is gone is dropped from it. With
        ``skip``, the entries of the newest batch that cannot be put back are set aside
        first, so the batch before it is undone: one stuck entry never blocks the others."""
        result = ActionResult()
        with actions_lock(self.catalog):
            self.recovery = Recovery()
            _recover_locked(self.catalog, self.recovery)
            last = self.catalog.last_batch_entries()
            if skip and last is not None:
                self.catalog.skip_actions([e.id for e in last[1]])
                result.skipped = [(e.source, e.destination or "") for e in last[1]]
                last = self.catalog.last_batch_entries()
            if last is None:
                return result
            result.batch, entries = last
            in_system = [e for e in entries if e.action == SYSTEM_TRASH]
            if in_system:  # undo cannot take photos out of the system's trash: said, set aside
                result.in_system_trash = [e.source for e in in_system]
                self.catalog.skip_actions([e.id for e in in_system])
                entries = [e for e in entries if e.action != SYSTEM_TRASH]
            for e in entries:
                try:
                    self._undo_one(e, result)
                except NotDone as exc:
                    result.failed.append((e.source or f"undo entry {e.id}", exc.reason))
                except OSError as exc:
                    result.failed.append((e.source, f"could not be put back: {exc.strerror or exc}"))
                except Exception as exc:  # noqa: BLE001 - a database error on one entry: go on
                    result.failed.append((e.source, f"could not be put back: {exc}"))
        return result

    def _undo_one(self, e: JournalEntry, result: ActionResult) -> None:
        if e.damage or e.destination is None:
            raise NotDone(f"its undo entry is damaged ({e.damage}): left as it is ('imgfinder repair' "
                          "reports it, 'imgfinder undo --skip' sets it aside)")
        src, dst = e.source, e.destination
        if not os.path.lexists(dst):
            with contextlib.suppress(Exception):
                self.catalog.mark_undone([e.id])
            raise NotDone(f"is no longer at {dst}: nothing to put back")
        s, d = _regular(src), _regular(dst)
        digest = _known_hash(self.catalog, e, dst, src)
        if s is not None and d is not None and (s.st_dev, s.st_ino) == (d.st_dev, d.st_ino):
            # An undo killed between its link and its unlink: the photo is back, finish it.
            self.catalog.journal_state(e.id, UNDOING)
            os.unlink(dst)
            _remove_info_naming(e.action, dst, src)  # (and the file stays at src: nothing lost)
            self._undone(e, src, dst, s.st_size, result)
            return
        if e.action in _TO_TRASH and not in_trash(dst):
            raise NotDone(f"the log says it is in the trash, but {dst} is not in a trash: left alone")
        if e.action in _TO_TRASH:
            problem = trash_problem(Path(dst).parent.parent)
            if problem is not None:
                raise NotDone(f"{problem}: left alone")
        if d is None:
            raise NotDone(f"{dst} is not a regular file (a link or a folder): left alone")
        if digest is None:
            raise NotDone(f"its content hash is not recorded, so {dst} cannot be checked: left alone")
        expected = Expected(e.size if e.size is not None else d.st_size, None, digest)
        if e.action == LINK and s is not None:
            self._unlink_replacement(e, src, digest)
        try:
            self.catalog.journal_state(e.id, UNDOING)  # durable before the file goes back
        except Exception as exc:  # noqa: BLE001 - an undo that cannot be journaled is not made
            raise NotDone(f"the undo could not be recorded ({exc}), so it was left at {dst}") from exc
        back: list[bool] = []
        try:
            _backward(e.action, src, dst, expected, lambda info, created: back.append(True))
        except NotDone:
            if not back:
                with contextlib.suppress(Exception):
                    self.catalog.journal_state(e.id, DONE)
                raise
        except BaseException:
            if back:
                self._undone(e, src, dst, expected.size or 0, result)
            else:
                with contextlib.suppress(Exception):
                    self.catalog.journal_state(e.id, DONE)
            raise
        self._undone(e, src, dst, expected.size or 0, result)

    def _unlink_replacement(self, e: JournalEntry, src: str, digest: str) -> None:
        """Remove the hard link a link entry put at ``src``, so its copy can come back;
        only while it still holds the copy's bytes (an edit through the link changed the
        copy kept as well, and is the user's: it stays)."""
        try:
            now, n = file_hash(src)
        except OSError as exc:
            raise NotDone(f"the link at its path could not be read: {exc.strerror or exc}") from exc
        if now != digest or n != (e.size if e.size is not None else n):
            raise NotDone(f"the file at {src} changed since it was made a link (an edit through it changed "
                          "the copy kept too): left alone, and the copy stays in the trash")
        try:
            self.catalog.journal_state(e.id, UNDOING)  # durable before the link goes
        except Exception as exc:  # noqa: BLE001
            raise NotDone(f"the undo could not be recorded ({exc}): left as it is") from exc
        os.unlink(src)
        fsync_dir(os.path.dirname(src))

    def _undone(self, e: JournalEntry, src: str, dst: str, size: int, result: ActionResult) -> None:
        result.done.append((dst, src))
        result.bytes += size
        with contextlib.suppress(Exception):  # left 'undoing': ``recover`` marks it undone
            self.catalog.mark_undone([e.id])
        with contextlib.suppress(Exception):
            self.catalog.rename_path(dst, src)
