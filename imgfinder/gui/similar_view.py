"""The similar-photos tab: the query photo and the ranked results with their similarity.

A result's edited copies (``core.similar_copies``: proven by matching detail) are folded
under it, its picture marked "+3 copies"; "Show edited copies" lists them in place, right
after the photo they copy."""

from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..core.library import SimilarHit
from .models import PhotoListModel
from .widgets import ElidedLabel, PhotoGrid
from .wording import photos
from .workers import ThumbnailLoader


class SimilarView(QWidget):
    def __init__(self, loader: ThumbnailLoader, side: int, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.query_path: str | None = None
        self.model = PhotoListModel(self)
        self.grid = PhotoGrid(loader, side, self)
        self.grid.setModel(self.model)
        self.grid.setObjectName("similarGrid")
        self.query_thumb = QLabel()
        self.query_thumb.setFixedSize(72, 72)
        self.query_thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_thumb.setStyleSheet("background: palette(mid); border-radius: 4px;")
        self.title = ElidedLabel("Drop a photo on the window, paste one (Ctrl+V) or pick “Find similar” on a photo",
                                 Qt.TextElideMode.ElideRight)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.query_label = ElidedLabel("")
        self.hits: list[SimilarHit] = []
        self.show_copies = QCheckBox("Show edited copies")
        self.show_copies.setObjectName("showCopies")
        self.show_copies.setToolTip("List the results' edited copies (proven by matching detail) right after "
                                    "the photo they copy, instead of folded under it")
        self.show_copies.setVisible(False)  # shown when some result has copies
        self.show_copies.toggled.connect(self._show_rows)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.query_label)
        header = QHBoxLayout()
        header.setContentsMargins(8, 6, 8, 6)
        header.setSpacing(10)
        header.addWidget(self.query_thumb)
        header.addLayout(text, 1)
        header.addWidget(self.show_copies)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.grid, 1)
        loader.ready.connect(self._refresh_query_thumb)

    def set_searching(self, path: str) -> None:
        self.query_path = path
        self.title.set_full_text(f"Searching for photos like {os.path.basename(path)}…")
        self.query_label.set_full_text(path)
        self.hits = []
        self.show_copies.setVisible(False)
        self.model.set_rows([], [])
        self._refresh_query_thumb()

    def set_results(self, path: str, hits: list[SimilarHit]) -> None:
        self.query_path = path
        self.hits = list(hits)
        best = f" — best match {hits[0].score * 100:.1f}%" if hits else ""
        copies = sum(len(h.copies) for h in hits)
        folded = f" (and {copies} edited {'copy' if copies == 1 else 'copies'} of them)" if copies else ""
        self.title.set_full_text(f"{photos(len(hits))} similar to {os.path.basename(path)}{folded}{best}")
        self.query_label.set_full_text(path)
        self.show_copies.setVisible(copies > 0)
        self._show_rows()
        self._refresh_query_thumb()
        if hits:
            self.grid.setCurrentIndex(self.model.index(0, 0))

    def _show_rows(self) -> None:
        """The results, each one's copies folded under it (a "+N copies" badge) or, with
        "Show edited copies", listed right after it (each badged "copy")."""
        rows, scores, badges = [], [], []
        in_place = self.show_copies.isChecked()
        for h in self.hits:
            rows.append(h.row)
            scores.append(h.score)
            n = len(h.copies)
            if not n:
                badges.append(None)
            elif in_place:
                badges.append((f"{n} {'copy' if n == 1 else 'copies'} after", f"its {n} edited "
                               f"{'copy follows' if n == 1 else 'copies follow'}"))
            else:
                badges.append((f"+{n} {'copy' if n == 1 else 'copies'}", f"{n} edited "
                               f"{'copy' if n == 1 else 'copies'} of this photo: "
                               + ", ".join(os.path.basename(c.row.path) for c in h.copies)))
            if in_place:
                for c in h.copies:
                    rows.append(c.row)
                    scores.append(c.score)
                    badges.append(("copy", f"an edited copy of {os.path.basename(h.row.path)}"))
        self.model.set_rows(rows, scores, badges=badges)

    def remove_paths(self, paths: set[str]) -> None:
        """Files moved away leave the results (a moved result's copies stay, as results)."""
        kept: list[SimilarHit] = []
        for h in self.hits:
            copies = tuple(c for c in h.copies if c.row.path not in paths)
            if h.row.path not in paths:
                kept.append(replace(h, copies=copies))
            else:
                kept += [replace(c, copies=()) for c in copies]
        if len(kept) != len(self.hits) or any(len(a.copies) != len(b.copies) for a, b in zip(kept, self.hits)):
            self.hits = kept
            self.show_copies.setVisible(any(h.copies for h in kept))
            self._show_rows()

    def set_error(self, path: str, message: str) -> None:
        self.title.set_full_text(f"Cannot search with {os.path.basename(path)}: {message}")
        self.hits = []
        self.show_copies.setVisible(False)
        self.model.set_rows([], [])

    def _refresh_query_thumb(self) -> None:
        if not self.query_path:
            return
        pm = self.loader.pixmap(self.query_path, 128)
        if isinstance(pm, QPixmap):
            self.query_thumb.setPixmap(pm.scaled(72, 72, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))
