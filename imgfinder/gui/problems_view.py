"""The problems tab: every file that could not be read, with the reason, so nothing is
silently skipped; and what a user does about one (as Czkawka's broken-files tool): see
its reason whole, show it in its folder, copy its path, move it to the trash (logged and
undoable like every clean-up)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from .wording import plural


class ProblemsView(QWidget):
    show_folder_requested = Signal(str)  # a file's path
    trash_requested = Signal(list)  # paths

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel("No problems: every photo could be read.")
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("problemsTable")
        self.table.setHorizontalHeaderLabels(["File", "Why it could not be read"])
        self.table.verticalHeader().setVisible(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().resizeSection(1, 320)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        # The selected file's path and reason whole: a column cuts a long reason off.
        self.detail = QLabel()
        self.detail.setObjectName("problemDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_button = QPushButton("Show in folder")
        self.copy_button = QPushButton("Copy path")
        self.trash_button = QPushButton("Move to trash…")
        self.folder_button.setToolTip("Open the folder that holds the selected file")
        self.copy_button.setToolTip("Copy the selected files' paths to the clipboard, one per line")
        self.trash_button.setToolTip("Move the selected files to the trash (after a question; Edit ▸ Undo puts them back)")
        self.folder_button.clicked.connect(self._show_folder)
        self.copy_button.clicked.connect(self.copy_paths)
        self.trash_button.clicked.connect(lambda: self.trash_requested.emit(self.selected_paths()))
        buttons = QHBoxLayout()
        for b in (self.folder_button, self.copy_button, self.trash_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        self._selection_changed()

    def set_problems(self, problems: list[tuple[str, str]]) -> None:
        self.table.setRowCount(len(problems))
        for r, (path, reason) in enumerate(problems):
            a, b = QTableWidgetItem(path), QTableWidgetItem(reason)
            a.setToolTip(path)
            b.setToolTip(reason)
            self.table.setItem(r, 0, a)
            self.table.setItem(r, 1, b)
        self.label.setText(f"{plural(len(problems), 'file')} could not be read:" if problems
                           else "No problems: every photo could be read.")
        self._selection_changed()

    def count(self) -> int:
        return self.table.rowCount()

    def selected_paths(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        return [self.table.item(r, 0).text() for r in rows if self.table.item(r, 0) is not None]

    @Slot()
    def _selection_changed(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        for b in (self.copy_button, self.trash_button):
            b.setEnabled(bool(rows))
        self.folder_button.setEnabled(len(rows) == 1)
        if len(rows) == 1:
            path, reason = self.table.item(rows[0], 0).text(), self.table.item(rows[0], 1).text()
            self.detail.setText(f"{path}\n{reason}")
        elif rows:
            self.detail.setText(f"{plural(len(rows), 'file')} selected")
        else:
            self.detail.setText("Select a file to read its reason whole." if self.count() else "")

    @Slot()
    def _show_folder(self) -> None:
        paths = self.selected_paths()
        if len(paths) == 1:
            self.show_folder_requested.emit(paths[0])

    @Slot()
    def copy_paths(self) -> None:
        paths = self.selected_paths()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))
