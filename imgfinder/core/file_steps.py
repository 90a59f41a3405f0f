"""The all-or-nothing steps of one file action: a file moved to exactly one destination
(the trash's name reserved first by its .trashinfo) or put back, never over another file;
what a failure created is removed, and each failure says why in words."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .file_action_types import _TO_TRASH, NotDone
from .freedesktop_trash import _trashinfo_original, _trashinfo_path
from .safe_move import (
    Expected,
    Skipped,
    Transfer,
    identity,
)


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
