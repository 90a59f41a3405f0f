"""Qt item models over core rows: the library grid and the similar-photo results.

They hold plain ``FileRow`` lists (produced and sorted in workers) and answer ``data``
in O(1), so a 100,000-photo library costs nothing to show; thumbnails are painted by
the delegate on demand.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from ..core.catalog import FileRow

PathRole = Qt.ItemDataRole.UserRole + 1
RowRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3

_Index = QModelIndex | QPersistentModelIndex


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class PhotoListModel(QAbstractListModel):
    """A list of photos, optionally with a similarity score each."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[FileRow] = []
        self._scores: list[float] | None = None

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(row.path)
        if role == PathRole:
            return row.path
        if role == RowRole:
            return row
        if role == ScoreRole:
            return self._scores[index.row()] if self._scores is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            dims = f"{row.width}x{row.height}, " if row.width else ""
            score = f"{self._scores[index.row()] * 100:.1f}% similar\n" if self._scores is not None else ""
            return f"{score}{row.path}\n{dims}{human_bytes(row.size)}"
        return None

    def set_rows(self, rows: Sequence[FileRow], scores: Sequence[float] | None = None) -> None:
        """Replace the rows; appends without a reset when the old list is a prefix."""
        rows = list(rows)
        old = self._rows
        if scores is None and self._scores is None and old and len(rows) > len(old) and all(
            a.id == b.id for a, b in zip(old, rows[: len(old)])
        ):
            self.beginInsertRows(QModelIndex(), len(old), len(rows) - 1)
            self._rows = rows
            self.endInsertRows()
            return
        self.beginResetModel()
        self._rows = rows
        self._scores = list(scores) if scores is not None else None
        self.endResetModel()

    def remove_paths(self, paths: set[str]) -> None:
        keep = [i for i, r in enumerate(self._rows) if r.path not in paths]
        if len(keep) == len(self._rows):
            return
        self.beginResetModel()
        self._rows = [self._rows[i] for i in keep]
        if self._scores is not None:
            self._scores = [self._scores[i] for i in keep]
        self.endResetModel()

    def row_at(self, i: int) -> FileRow:
        return self._rows[i]

    def index_of_path(self, path: str) -> QModelIndex:
        for i, r in enumerate(self._rows):
            if r.path == path:
                return self.index(i, 0)
        return QModelIndex()

    def rows(self) -> list[FileRow]:
        return list(self._rows)
