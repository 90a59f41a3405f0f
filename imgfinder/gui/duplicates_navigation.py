"""Deciding group by group in the Duplicates table: the group at a glance under it, the keys
(N, P, K, X, D) and the columns that make room for Size and Folder. A part of
``DuplicatesView`` (one of its bases)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, Qt
from PySide6.QtGui import QAction, QKeySequence

from .duplicates_table import COLUMNS, FOLDER_MIN, GLANCE_SHARE, PHOTO_COLUMN, MemberRole


class GroupNavigation:
    """Methods of ``DuplicatesView``: they use its tree, model, groups and actions."""

    # -- the group at a glance and its keys ---------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._split_placed and self.split.height() > 0:
            self._split_placed = True
            h = sum(self.split.sizes()) or self.split.height()
            self.split.setSizes([round(h * (1 - GLANCE_SHARE)), round(h * GLANCE_SHARE)])

    def _key_action(self, text: str, key: str, slot) -> QAction:
        act = QAction(text, self)
        act.setShortcut(QKeySequence(key))
        act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        act.triggered.connect(lambda checked=False: slot())
        self.addAction(act)
        return act

    def _position(self) -> tuple[int | None, int | None]:
        """(group, member) of the tree's current row; member None on a group's title row."""
        current = self.tree.currentIndex()
        if not current.isValid():
            return None, None
        item = self.model.itemFromIndex(current.siblingAtColumn(0))
        if item is not None and item.data(MemberRole) is not None:
            n, i = item.data(MemberRole)
            return n, i
        return (current.row(), None) if not current.parent().isValid() else (None, None)

    def _current_moved(self, *_: object) -> None:
        n, i = self._position()
        if n is None or not 0 <= n < len(self.groups):
            return
        self._show_glance(n, i)

    def _show_glance(self, n: int | None, i: int | None = None) -> None:
        if n is None:
            self.glance.show_group(None, None, len(self.groups), set(), self.is_reference)
            return
        fresh = n != self.glance.group_number or self.glance.group is not self.groups[n]
        self.glance.show_group(n, self.groups[n], len(self.groups), set(self.checked_paths()), self.is_reference, i)
        if fresh:
            self.dates_wanted.emit([m.row.path for m in self.groups[n].members])

    def _glance_clicked(self, n: int, i: int) -> None:
        self.select_member(n, i)
        self.tree.setFocus()

    def _glance_compare(self, n: int, i: int) -> None:
        self.select_member(n, i)
        self._emit_compare()

    def step_group(self, delta: int) -> None:
        """Highlight the first copy of the next (``delta`` 1) or previous shown group."""
        shown = [r for r in range(len(self.groups)) if not self.tree.isRowHidden(r, QModelIndex())]
        if not shown:
            return
        n, _ = self._position()
        if n is None or n not in shown:
            target = shown[0] if delta > 0 else shown[-1]
        else:
            at = shown.index(n) + delta
            target = shown[max(0, min(len(shown) - 1, at))]
        self.select_member(target, 1 if len(self.groups[target].members) > 1 else 0)
        self.tree.setFocus()

    def toggle_current(self) -> None:
        """Tick or untick the highlighted photo (the copy kept and reference files cannot be)."""
        current = self.tree.currentIndex()
        item = self.model.itemFromIndex(current.siblingAtColumn(0)) if current.isValid() else None
        if item is None or not item.isCheckable() or item.data(MemberRole) is None:
            return
        n, i = item.data(MemberRole)
        if i == 0:
            return
        on = item.checkState() != Qt.CheckState.Checked
        item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    # -- column widths --------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        if watched is self.tree.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        return super().eventFilter(watched, event)

    def _fit_columns(self) -> None:
        """The photo column gives up width in a narrow window so Size and Folder stay in view
        (at 900 x 650 they were behind a scroll bar), up to ``PHOTO_COLUMN``; a width the
        user dragged it to is kept."""
        if self._photo_sized_by_user:
            return
        header = self.tree.header()
        others = sum(header.sectionSize(c) for c in range(1, len(COLUMNS) - 1))
        room = self.tree.viewport().width() - others - FOLDER_MIN
        width = max(PHOTO_COLUMN[0], min(PHOTO_COLUMN[1], room))
        if width != header.sectionSize(0):
            self._fitting = True
            header.resizeSection(0, width)
            self._fitting = False

    def _section_resized(self, index: int, old: int, new: int) -> None:
        if index == 0 and not self._fitting and self.tree.isVisible():
            self._photo_sized_by_user = True
