"""The similar-photos tab: the query photo and the ranked results with their similarity."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

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
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.query_label)
        header = QHBoxLayout()
        header.setContentsMargins(8, 6, 8, 6)
        header.setSpacing(10)
        header.addWidget(self.query_thumb)
        header.addLayout(text, 1)
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
        self.model.set_rows([], [])
        self._refresh_query_thumb()

    def set_results(self, path: str, hits: list[SimilarHit]) -> None:
        self.query_path = path
        best = f" — best match {hits[0].score * 100:.1f}%" if hits else ""
        self.title.set_full_text(f"{photos(len(hits))} similar to {os.path.basename(path)}{best}")
        self.query_label.set_full_text(path)
        self.model.set_rows([h.row for h in hits], [h.score for h in hits])
        self._refresh_query_thumb()
        if hits:
            self.grid.setCurrentIndex(self.model.index(0, 0))

    def set_error(self, path: str, message: str) -> None:
        self.title.set_full_text(f"Cannot search with {os.path.basename(path)}: {message}")
        self.model.set_rows([], [])

    def _refresh_query_thumb(self) -> None:
        if not self.query_path:
            return
        pm = self.loader.pixmap(self.query_path, 128)
        if isinstance(pm, QPixmap):
            self.query_thumb.setPixmap(pm.scaled(72, 72, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))
