"""The problems tab: every file that could not be read, with the reason, so nothing is
silently skipped."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from .wording import plural


class ProblemsView(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel("No problems: every photo could be read.")
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("problemsTable")
        self.table.setHorizontalHeaderLabels(["File", "Why it could not be read"])
        self.table.verticalHeader().setVisible(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().resizeSection(1, 320)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.table, 1)

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

    def count(self) -> int:
        return self.table.rowCount()
