"""The main window's duplicate search: find, regroup as the slider or the keep rule moves,
"not duplicates", compare, export, and the dates of the group at a glance. A part of
``MainWindow`` (one of its bases), kept apart from the window's layout."""

from __future__ import annotations

import os

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFileDialog,
)

from ..core.duplicates import GroupMember, removable_copies
from ..core.export import write_csv, write_json
from ..core.group_kind import KIND_SHOTS
from . import jobs
from .compare_view import CompareDialog
from .models import human_bytes
from .tabs import TAB_DUPLICATES
from .wording import plural


class DuplicateCommands:
    """Methods of ``MainWindow``: they use its widgets, engine, runner and settings."""

    # -- duplicates -------------------------------------------------------------------------------------
    def find_duplicates(self) -> None:
        self.duplicates_searched = True
        self._changes_since_search = {"added": 0, "changed": 0, "removed": 0}
        self.duplicates_view.set_searching()
        self.tabs.setCurrentIndex(TAB_DUPLICATES)
        threshold = self.duplicates_view.threshold()
        keep = self.duplicates_view.keep_preference()
        hidden = set(self.hidden)
        reference = list(self.settings.reference_folders)

        def go() -> None:
            self.runner.submit("duplicates",
                               lambda ctx: (threshold, *self.engine.duplicates(ctx, threshold, hidden, keep, reference)),
                               cancel_running=True)

        self.when_ready(go)

    def _done_duplicates(self, result) -> None:
        self._end_progress()
        threshold, self.finder, groups = result
        self._show_groups(groups)
        if abs(self.duplicates_view.threshold() - threshold) > 1e-9:
            self._threshold_changed(self.duplicates_view.threshold())  # the slider moved meanwhile

    def _show_groups(self, groups) -> None:
        self.duplicates_view.set_groups(groups, self.settings.reference_folders)
        # The same count as the Duplicates tab's summary (every group), then what it holds.
        bursts = sum(1 for g in groups if g.kind == KIND_SHOTS)  # burst shots are different photos
        copies, size = removable_copies(groups)
        text = plural(len(groups), "group")
        if bursts:
            text += f" ({len(groups) - bursts} of copies, {bursts} of burst shots)"
        text += f", {plural(copies, 'removable copy', 'removable copies')}"
        if copies:
            text += f" ({human_bytes(size)} to reclaim)"
        self._status(text)

    def _threshold_changed(self, threshold: float) -> None:
        self.settings.threshold = threshold
        if self.finder is not None:
            self.runner.submit("regroup", jobs.regroup_task(self.finder, threshold, set(self.hidden),
                                                            self.duplicates_view.keep_preference(),
                                                            list(self.settings.reference_folders)))

    def _keep_changed(self, keep) -> None:
        """The "Keep" choice changed: regroup so each group's copy to keep comes first."""
        self.settings.keep_preference = keep
        self._threshold_changed(self.duplicates_view.threshold())

    def _done_regroup(self, result) -> None:
        threshold, groups = result
        if abs(threshold - self.duplicates_view.threshold()) < 1e-9:
            self._show_groups(groups)

    def not_duplicates(self, a: GroupMember, b: GroupMember) -> None:
        self.not_duplicate_pairs([(a, b)])

    @Slot(object)
    def not_duplicate_pairs(self, pairs: list) -> None:
        """Remember each pair as "not duplicates" (by content) and regroup without them."""
        pairs = [(a, b) for a, b in pairs if a.row.hash and b.row.hash and a.row.hash != b.row.hash]
        if not pairs or self.finder is None:
            return
        keys = {tuple(sorted((a.row.hash, b.row.hash))) for a, b in pairs}
        self.finder.ignored = set(self.finder.ignored) | keys
        self.runner.submit("ignore", lambda ctx: [self.engine.ignore_pair(ctx, x, y) for x, y in sorted(keys)])
        self._threshold_changed(self.duplicates_view.threshold())
        names = sorted({os.path.basename(m.row.path) for a, b in pairs for m in (a, b)})
        if len(pairs) == 1:
            self._status(f"Remembered: {names[0]} and {names[-1]} are not duplicates")
        else:
            self._status(f"Remembered: {len(names)} photos are not duplicates of each other ({len(pairs)} pairs)")

    def compare(self, a: GroupMember, b: GroupMember) -> None:
        if self.compare_dialog is not None:
            self.compare_dialog.close()
        self.compare_dialog = CompareDialog(a, b, self)
        self.compare_dialog.show()
        paths = [a.row.path, b.row.path]
        self.runner.submit("compare", lambda ctx: (paths, jobs.compare(ctx, paths)))

    def _done_compare(self, result) -> None:
        paths, data = result
        dlg = self.compare_dialog
        if dlg is not None and [m.row.path for m in dlg.members] == paths:
            dlg.set_data(data)

    def export_groups(self) -> None:
        groups = list(self.duplicates_view.groups)
        if not groups:
            self._status("Nothing to export: find duplicates first (Ctrl+D)")
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Export duplicate groups", "duplicates.csv",
                                                   "CSV (*.csv);;JSON (*.json)")
        if path:
            self.export_to(path, groups)

    def export_to(self, path: str, groups=None) -> None:
        groups = list(self.duplicates_view.groups) if groups is None else groups
        threshold = self.duplicates_view.threshold()

        def work(ctx):
            if path.lower().endswith(".json"):
                catalog = self.engine.lib.catalog
                write_json(path, groups, threshold, catalog.problems(), catalog)
            else:
                write_csv(path, groups)
            return path

        self.runner.submit("export", work)

    def _done_export(self, path: str) -> None:
        self._status(f"Exported the groups to {path}")

    @Slot(list)
    def read_dates(self, paths: list[str]) -> None:
        """Dates for the group at a glance, read off the GUI thread (a newer group replaces it)."""
        self.runner.submit("dates", lambda ctx: jobs.dates(ctx, paths), cancel_running=True)

    def _done_dates(self, dates: dict) -> None:
        self.duplicates_view.glance.set_dates(dates)
