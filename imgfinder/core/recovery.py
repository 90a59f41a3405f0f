"""Recovery from a file action killed midway: the journal's entries still in flight are
settled by what the files show (finished, or rolled back), under the one lock that keeps
two processes from moving files of one catalog at once."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import DONE, PENDING, Catalog, JournalEntry
from .file_action_types import _TO_TRASH, LINK, NotDone
from .file_steps import _backward
from .freedesktop_trash import _trashinfo_original, _trashinfo_path
from .safe_move import (
    TEMP_PREFIX,
    Expected,
    file_hash,
    is_temp_name,
)
from .system_trash import SYSTEM_TRASH


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
