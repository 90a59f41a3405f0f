"""Qt item models over core rows: the library grid and the similar-photo results.

They hold plain ``FileRow`` lists (produced and sorted in workers) and answer ``data``
in O(1), so a 100,000-photo library costs nothing to show; thumbnails are painted by
the delegate on demand.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from ..core.catalog import FileRow

PathRole = Qt.ItemDataRole.UserRole + 1
RowRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3
FolderHintRole = Qt.ItemDataRole.UserRole + 4  # the parent folder(s) shown when a file name repeats
DistinctRole = Qt.ItemDataRole.UserRole + 5  # where the name starts to differ from the closest other name
BadgeRole = Qt.ItemDataRole.UserRole + 6  # a short note on the picture ("+3 copies"), or None

_Index = QModelIndex | QPersistentModelIndex


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            if unit == "bytes":
                return "1 byte" if n == 1 else f"{n:.0f} bytes"
            return f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def folder_hints(paths: Iterable[str]) -> dict[str, str]:
    """For every file whose name occurs more than once in ``paths``: the fewest trailing
    parent folders that tell it apart from its namesakes ("Holidays 2023", or
    "2023/Phone" when two parents share a name). Files with a unique name are left out.
    Linear in the number of paths (run in a worker for the library's rows)."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        by_name[os.path.basename(p)].append(p)
    hints: dict[str, str] = {}
    for group in by_name.values():
        if len(group) < 2:
            continue
        parents = {p: os.path.dirname(p).split(os.sep) for p in group}
        depth = max(len(v) for v in parents.values())
        for k in range(1, depth + 1):
            tails = {p: "/".join(v[-k:]).lstrip("/") or "/" for p, v in parents.items()}
            if len(set(tails.values())) == len(group) or k == depth:
                break
        hints.update(tails)
    return hints


def distinct_starts(names: Iterable[str]) -> dict[str, int]:
    """For each name, where it starts to differ from the most alike other name (the longer
    common prefix with its neighbours in sorted order): the part a label must not elide.
    "IMG_20230101_142233.jpg" beside "..._142234.jpg" -> 21. O(n log n)."""
    ordered = sorted(set(names))
    out: dict[str, int] = {}

    def common(a: str, b: str) -> int:
        n = min(len(a), len(b))
        i = 0
        while i < n and a[i] == b[i]:
            i += 1
        return i

    prev = 0
    for i, name in enumerate(ordered):
        nxt = common(name, ordered[i + 1]) if i + 1 < len(ordered) else 0
        out[name] = min(len(name), max(prev, nxt))
        prev = nxt
    return out


class PhotoListModel(QAbstractListModel):
    """A list of photos, optionally with a similarity score each."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[FileRow] = []
        self._scores: list[float] | None = None
        self._badges: list[tuple[str, str] | None] | None = None  # (badge, tooltip line) per row
        self._hints: dict[str, str] = {}
        self._distinct: dict[str, int] | None = None  # made when a label first asks (``distinct_starts``)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            hint = self._hints.get(row.path)
            return f"{hint}/{os.path.basename(row.path)}" if hint else os.path.basename(row.path)
        if role == FolderHintRole:
            return self._hints.get(row.path)
        if role == DistinctRole:
            if self._distinct is None:
                self._distinct = distinct_starts(os.path.basename(r.path) for r in self._rows)
            return self._distinct.get(os.path.basename(row.path), 0)
        if role == PathRole:
            return row.path
        if role == RowRole:
            return row
        if role == ScoreRole:
            return self._scores[index.row()] if self._scores is not None else None
        if role == BadgeRole:
            badge = self._badges[index.row()] if self._badges is not None else None
            return badge[0] if badge else None
        if role == Qt.ItemDataRole.ToolTipRole:
            dims = f"{row.width}x{row.height}, " if row.width else ""
            score = f"{self._scores[index.row()] * 100:.1f}% similar\n" if self._scores is not None else ""
            badge = self._badges[index.row()] if self._badges is not None else None
            return f"{score}{row.path}\n{dims}{human_bytes(row.size)}" + (f"\n{badge[1]}" if badge else "")
        return None

    def set_rows(self, rows: Sequence[FileRow], scores: Sequence[float] | None = None,
                 hints: dict[str, str] | None = None, distinct: dict[str, int] | None = None,
                 badges: Sequence[tuple[str, str] | None] | None = None) -> None:
        """Replace the rows; appends without a reset when the old list is a prefix.
        ``badges``: per row, a short note painted on its picture and a line of its tooltip.
        ``hints`` are the rows' ``folder_hints`` (computed here when not given), ``distinct``
        their names' ``distinct_starts`` (computed when a label first needs them if not:
        a worker passes both for the whole library, 0.2 s for 100,000 names)."""
        rows = list(rows)
        old = self._rows
        hints = folder_hints(r.path for r in rows) if hints is None else hints
        self._distinct = distinct
        if scores is None and self._scores is None and badges is None and old and len(rows) > len(old) and all(
            a.id == b.id for a, b in zip(old, rows[: len(old)])
        ):
            relabel = hints != self._hints
            self.beginInsertRows(QModelIndex(), len(old), len(rows) - 1)
            self._rows = rows
            self._hints = hints
            self.endInsertRows()
            if relabel:  # a new photo may share its name with one already shown
                self.dataChanged.emit(self.index(0, 0), self.index(len(old) - 1, 0), [Qt.ItemDataRole.DisplayRole])
            return
        self.beginResetModel()
        self._rows = rows
        self._scores = list(scores) if scores is not None else None
        self._badges = list(badges) if badges is not None else None
        self._hints = hints
        self.endResetModel()

    def remove_paths(self, paths: set[str]) -> None:
        keep = [i for i, r in enumerate(self._rows) if r.path not in paths]
        if len(keep) == len(self._rows):
            return
        self._distinct = None
        self.beginResetModel()
        self._rows = [self._rows[i] for i in keep]
        if self._scores is not None:
            self._scores = [self._scores[i] for i in keep]
        if self._badges is not None:
            self._badges = [self._badges[i] for i in keep]
        # Fewer namesakes can only make hints unneeded; the reload that follows a move recomputes them.
        self._hints = {p: h for p, h in self._hints.items() if p not in paths}
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
