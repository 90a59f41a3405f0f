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
API, journaled the same way, and undo says how to restore them from there."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from . import system_trash
from .catalog import DONE, UNDOING, Catalog, JournalEntry
from .file_action_types import (
    _TO_TRASH,
    LINK,
    MAX_NAME_TRIES,
    MOVE,
    TRASH,
    ActionResult,
    NotDone,
    RefusedError,
    _inside,
    is_under,
)
from .file_steps import _backward, _forward, _make_trash, _remove_dirs, unique_path
from .freedesktop_trash import (
    UnsafeTrash,
    _device,
    _existing_ancestor,
    _private_dir_problem,
    _trashinfo_original,
    _trashinfo_path,
    _trashinfo_text,
    home_trash,
    in_trash,
    trash_dir_for,
    trash_problem,
)
from .recovery import (
    Recovery,
    _hash_of,
    _known_hash,
    _recover_locked,
    _regular,
    _remove_info_naming,
    actions_lock,
    recover,
)
from .safe_move import (
    Expected,
    Skipped,
    check_unchanged,
    file_hash,
    fsync_dir,
    same_content,
    sweep_stale_temps,
)
from .system_trash import SYSTEM_TRASH, Sender, trash_name, uses_system_trash

# The file actions' façade: their kinds, the trash, the steps and the recovery are defined
# beside it and re-exported here for the callers (and the tests of the trash's rules).
__all__ = [
    "LINK", "MOVE", "TRASH", "ActionResult", "FileMover", "NotDone", "Recovery", "RefusedError", "UnsafeTrash",
    "_private_dir_problem", "_trashinfo_original", "_trashinfo_text", "actions_lock", "home_trash", "in_trash",
    "is_under", "kept_folder", "recover", "shared_folder", "trash_dir_for", "trash_problem", "unique_path",
]


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
            same_content(src, expected, check_unchanged(src, expected))
        except Skipped as exc:
            raise NotDone(exc.reason) from exc
        except OSError as exc:
            raise NotDone(f"could not be read to check it: {exc.strerror or exc}") from exc
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
