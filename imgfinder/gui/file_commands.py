"""The main window's file actions: trash, move (optionally keeping folders), hard links
and undo, each asked first and run off the GUI thread, and what they did said after. A
part of ``MainWindow`` (one of its bases), kept apart from the window's layout."""

from __future__ import annotations

import os

from PySide6.QtCore import QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QMessageBox,
)

from ..core.file_actions import ActionResult, is_under, shared_folder
from ..core.system_trash import cannot_undo, trash_name, uses_system_trash
from . import dialogs
from .models import RowRole, human_bytes
from .tabs import TAB_DUPLICATES, TAB_LIBRARY, TAB_SIMILAR
from .wording import photos


class FileCommands:
    """Methods of ``MainWindow``: they use its widgets, engine, runner and settings."""

    # -- moving files --------------------------------------------------------------------------------------
    def selected_rows(self):
        """The photos the current tab's selection means: checked copies, or selected grid items."""
        tab = self.tabs.currentIndex()
        if tab == TAB_DUPLICATES:
            return [m.row for m in self.duplicates_view.checked_members()]
        grid = self.library_view.grid if tab == TAB_LIBRARY else self.similar_view.grid if tab == TAB_SIMILAR else None
        if grid is None:
            return []
        return [ix.data(RowRole) for ix in grid.selectionModel().selectedIndexes()]

    def _movable(self) -> list:
        rows = self.selected_rows()
        reference = self.settings.reference_folders
        movable = [r for r in rows if not is_under(r.path, reference)]
        if len(movable) < len(rows):
            stay = len(rows) - len(movable)
            self._status(f"{photos(stay)} {'is' if stay == 1 else 'are'} in reference folders and "
                         f"{'stays' if stay == 1 else 'stay'} where {'it is' if stay == 1 else 'they are'}")
        return movable

    @Slot(str)
    def show_in_folder(self, path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))

    @Slot(list)
    def trash_problem_files(self, paths: list[str]) -> None:
        """Unreadable files from the Problems tab to the trash: asked, logged and undoable
        as any clean-up; reference folders' files stay."""
        reference = list(self.settings.reference_folders)
        movable = [p for p in paths if not is_under(p, reference)]
        if len(movable) < len(paths):
            self._status(f"{photos(len(paths) - len(movable))} in reference folders stay where they are")
        if not movable:
            return
        size = 0
        for p in movable:
            try:
                size += os.lstat(p).st_size
            except OSError:
                pass
        if not dialogs.confirm_file_action(self, "Move to trash", len(movable), size):
            return
        self.runner.submit("files", lambda ctx: ("trash", self.engine.trash(ctx, movable, reference, None)))

    def trash_selection(self) -> None:
        rows = self._movable()
        if not rows:
            return
        if not dialogs.confirm_file_action(self, "Move to trash", len(rows), sum(r.size for r in rows)):
            return
        paths, reference = [r.path for r in rows], list(self.settings.reference_folders)
        kept = self._kept_groups(paths)
        self.runner.submit("files", lambda ctx: ("trash", self.engine.trash(ctx, paths, reference, kept)))

    def move_selection(self) -> None:
        rows = self._movable()
        if not rows:
            return
        folder = dialogs.choose_folder(self, "Move the selected photos to…")
        if not folder:
            return
        paths, reference = [r.path for r in rows], list(self.settings.reference_folders)
        below = shared_folder(paths)
        keep_folders = dialogs.confirm_move(self, len(rows), sum(r.size for r in rows), folder, below)
        if keep_folders is None:
            return
        kept = self._kept_groups(paths)
        roots = [below] if keep_folders else []
        self.runner.submit("files", lambda ctx: ("move", self.engine.move(ctx, paths, folder, reference, kept, roots)))


    def link_selection(self) -> None:
        """The ticked byte-identical copies of the Duplicates tab become hard links to the
        copy kept (asked first; undoable). Only there: elsewhere there is no copy kept."""
        if self.tabs.currentIndex() != TAB_DUPLICATES:
            self._status("Replacing copies by hard links works on the Duplicates tab: tick the copies there")
            return
        if uses_system_trash():
            self._status(f"Hard links need a trash undo can reach; on this system use Trash ({trash_name()}) or Move")
            return
        reference = list(self.settings.reference_folders)
        pairs, different = self.duplicates_view.link_pairs()
        pairs = [(c, k) for c, k in pairs if not is_under(c, reference)]
        if not pairs:
            self._status("None of the selected copies is byte-identical to the copy kept: nothing to link"
                         if different else "Tick the copies to replace by links first")
            return
        sizes = {m.row.path: m.row.size for g in self.duplicates_view.groups for m in g.members}
        total = sum(sizes.get(c, 0) for c, _ in pairs)
        if not dialogs.confirm_links(self, len(pairs), total, len(different)):
            return
        kept = self._kept_groups([c for c, _ in pairs])
        self.runner.submit("files", lambda ctx: ("link", self.engine.link(ctx, pairs, reference, kept)))

    def _kept_groups(self, paths: list[str]):  # -> list[tuple[list[GroupMember], list[str]]] | None
        """From the duplicates tab: each group's copies that stay, checked again by content
        just before the move (the question may stay open for hours)."""
        if self.tabs.currentIndex() != TAB_DUPLICATES:
            return None
        wanted = set(paths)
        return [(kept, [p for p in moving if p in wanted]) for kept, moving in self.duplicates_view.checked_by_group()]

    def undo(self) -> None:
        self.when_ready(lambda: self.runner.submit("files", lambda ctx: ("undo", self.engine.undo(ctx))))

    def _done_files(self, result: tuple[str, ActionResult]) -> None:
        action, res = result
        if action == "undo":
            restored = {dst for _, dst in res.done}
            self.hidden -= restored | {src for src, _ in res.done}
            text = f"Undone: {photos(len(res.done))} put back" if res.done else "Nothing to undo"
            if res.in_system_trash:
                text = f"{photos(len(res.in_system_trash))} in {trash_name()}: restore them from there"
                QMessageBox.information(self, f"Restore from {trash_name()}", cannot_undo(len(res.in_system_trash)))
        else:
            moved = {src for src, _ in res.done}
            self.hidden |= moved
            self.thumbs.forget(moved)
            self.library_view.model.remove_paths(moved)
            self.similar_view.remove_paths(moved)
            where = f"to {trash_name()}" if action == "trash" else "to the folder"
            back = ("restore them from there" if action == "trash" and uses_system_trash() else "Undo with Ctrl+Z")
            text = f"Moved {photos(len(res.done))} ({human_bytes(res.bytes)}) {where} — {back}"
            if action == "link":
                text = (f"Replaced {photos(len(res.done))} with hard links to the copies kept; the copies "
                        f"({human_bytes(res.bytes)}) are in the trash — Undo with Ctrl+Z")
        if res.failed:
            text += f"; {len(res.failed):,} failed"
            title = {"undo": "Some photos were not put back", "link": "Some photos were not replaced"}
            QMessageBox.warning(self, title.get(action, "Some photos were not moved"),
                                "\n".join(f"{p}: {why}" for p, why in res.failed[:20]))
        self._status(text)
        self.reload_rows()
        self.reload_problems()  # a file trashed from the Problems tab leaves it
        if self.finder is not None:
            self._threshold_changed(self.duplicates_view.threshold())
