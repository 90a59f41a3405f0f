"""The main window's library: adding, managing and rescanning folders, indexing with
progress, the grid's rows and the Problems tab reloaded off the GUI thread, and the bar
that says shown duplicates predate a change. A part of ``MainWindow`` (one of its bases)."""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex

from ..core.file_actions import is_under
from ..core.indexer import IndexSummary
from ..core.skip_reasons import describe_skipped
from . import dialogs
from .models import PathRole, distinct_starts, folder_hints
from .tabs import TAB_DUPLICATES, TAB_PROBLEMS
from .wording import photos, plural


class LibraryCommands:
    """Methods of ``MainWindow``: they use its widgets, engine, runner and settings."""

    # -- library and indexing -----------------------------------------------------------------------
    def add_folder_dialog(self) -> None:
        folder = dialogs.choose_folder(self, "Add a photo folder")
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str]) -> None:
        current = self.settings.folders
        for f in folders:
            f = os.path.abspath(f)
            if f not in current and not is_under(f, current):
                current = [c for c in current if not is_under(c, [f])] + [f]
        self.settings.folders = current
        if self.ready:  # before, opening the library indexes the folders (now including these) itself
            self.start_indexing()

    def manage_folders(self) -> None:
        dlg = dialogs.FoldersDialog(self.settings.folders, self.settings.reference_folders, self)
        if dlg.exec():
            folders, reference = dlg.result_folders()
            changed = folders != self.settings.folders
            removed = [f for f in self.settings.folders if f not in folders]
            self.settings.folders, self.settings.reference_folders = folders, reference
            self.duplicates_view.reference_folders = reference
            if self.duplicates_view.groups:
                self.duplicates_view.set_groups(self.duplicates_view.groups, reference)
            if changed:
                self.when_ready(lambda: self.start_indexing(forget=removed))

    def rescan(self) -> None:
        self.when_ready(self.start_indexing)

    def start_indexing(self, forget: list[str] | None = None) -> None:
        """Index the library's folders (after forgetting the photos of removed ones)."""
        roots = list(self.settings.folders)
        if not roots and not forget:
            self._status("No folders yet: add one with Ctrl+O or drop it on the window")
            return
        self.indexing = True
        self.library_view.update_count(indexing=True)
        removed = list(forget or [])
        self._forgetting = removed
        if removed:
            self.runner.submit("index", lambda ctx: self.engine.index(ctx, roots, forget=removed))
        else:
            self.runner.submit("index", lambda ctx: self.engine.index(ctx, roots))
        # The grid fills in as photos are committed; big libraries refresh less often.
        self._rows_timer.setInterval(1000 if self.library_view.model.rowCount() < 20_000 else 5000)
        self._rows_timer.start()

    def cancel_jobs(self) -> None:
        self.runner.cancel("index")
        self.runner.cancel("duplicates")
        self._status("Cancelling…")

    def _done_index(self, summary: IndexSummary) -> None:
        self.last_summary = summary
        self._end_progress()
        if not self.runner.busy("index"):
            self.indexing = False
            self._rows_timer.stop()
        self.reload_rows()
        self.reload_problems()
        state = "cancelled" if summary.cancelled else "done"
        text = (f"Indexing {state}: {photos(summary.added)} added, {summary.updated:,} updated, "
                f"{summary.unchanged:,} unchanged, {summary.removed:,} removed")
        if summary.failed or summary.problems:
            text += f", {plural(len(summary.problems), 'file')} could not be read (see Problems)"
        skipped = describe_skipped(summary.skipped)
        if skipped:
            text += f"; {skipped}"
        self._status(text)
        forgot, self._forgetting = self._forgetting, []
        changes = self._changes_since_search
        changes["added"] += summary.added
        changes["changed"] += summary.updated + summary.rederived
        changes["removed"] += summary.removed
        if self.duplicates_searched and (summary.added or summary.updated or summary.removed or summary.rederived
                                         or forgot or summary.index_rebuilt):
            self._duplicates_out_of_date(bool(forgot))

    # -- results that predate a change of the library ----------------------------------------------
    def _duplicates_out_of_date(self, folders_removed: bool = False) -> None:
        """The library changed after the shown duplicate search: say so, and search again at
        once where that disturbs nothing (the tab is not in view, or shows no groups); a
        user reviewing groups is not pulled from under, but offered "Find again"."""
        if self.runner.busy("duplicates"):
            return  # a search is queued behind the indexing: it will see the new photos
        self.duplicates_view.set_stale(self._changes_text(folders_removed))
        if self.tabs.currentIndex() == TAB_DUPLICATES and not self.duplicates_view.groups:
            self.find_duplicates()

    def _changes_text(self, folders_removed: bool) -> str:
        """E.g. "3 photos were added and 1 removed since this search"."""
        c = self._changes_since_search
        parts = [f"{n:,} {verb}" for n, verb in ((c["added"], "added"), (c["changed"], "changed"), (c["removed"], "removed")) if n]
        if parts:
            first, _, verb = parts[0].partition(" ")
            parts[0] = f"{photos(int(first.replace(',', '')))} {'was' if first == '1' else 'were'} {verb}"
            text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        else:
            text = "the library changed"
        if folders_removed:
            text += "; a folder was removed from the library"
        return text + " since this search"

    def reload_rows(self) -> None:
        if not self.ready:
            return
        key = self.library_view.sort_key()
        def work(ctx):
            rows = self.engine.rows(ctx, key)
            return rows, folder_hints(r.path for r in rows), distinct_starts(os.path.basename(r.path) for r in rows)

        self.runner.submit("rows", work, cancel_running=True)

    def _done_rows(self, result) -> None:
        rows, hints, distinct = result
        grid = self.library_view.grid
        current = grid.currentIndex().data(PathRole)
        scroll = grid.verticalScrollBar().value()
        self.library_view.model.set_rows(rows, hints=hints, distinct=distinct)
        if current:
            ix = self.library_view.model.index_of_path(current) if len(rows) < 200_000 else QModelIndex()
            if ix.isValid():
                grid.setCurrentIndex(ix)
        grid.verticalScrollBar().setValue(scroll)
        self.library_view.update_count(indexing=self.indexing)

    def reload_problems(self) -> None:
        if self.ready:
            self.runner.submit("problems", self.engine.problems)

    def _done_problems(self, problems) -> None:
        self.problems_view.set_problems(problems)
        self.tabs.setTabText(TAB_PROBLEMS, f"Problems ({len(problems)})" if problems else "Problems")

    def _sort_changed(self, key: str) -> None:
        self.settings.sort_key = key
        self.reload_rows()

    def _thumb_size_changed(self, side: int) -> None:
        self.settings.thumb_size = side
        self.similar_view.grid.set_thumb_side(side)
