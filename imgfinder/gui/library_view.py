"""The library tab: every indexed photo as a thumbnail grid, with sorting and size."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget

from .models import PhotoListModel
from .widgets import PhotoGrid
from .workers import ThumbnailLoader

SORTS = [("name", "Name"), ("date", "Date taken"), ("size", "File size")]


class LibraryView(QWidget):
    sort_changed = Signal(str)
    thumb_size_changed = Signal(int)

    def __init__(self, loader: ThumbnailLoader, side: int, sort_key: str, parent=None) -> None:
        super().__init__(parent)
        self.model = PhotoListModel(self)
        self.grid = PhotoGrid(loader, side, self)
        self.grid.setModel(self.model)
        self.grid.setObjectName("libraryGrid")
        self.count_label = QLabel("No photos yet — add a folder (Ctrl+O) or drop one here")
        self.count_label.setObjectName("countLabel")
        self.count_label.setMinimumWidth(60)
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.sort_box = QComboBox()
        for key, label in SORTS:
            self.sort_box.addItem(label, key)
        self.sort_box.setCurrentIndex(max(0, [k for k, _ in SORTS].index(sort_key) if sort_key in dict(SORTS) else 0))
        self.sort_box.currentIndexChanged.connect(lambda _: self.sort_changed.emit(self.sort_box.currentData()))
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(80, 256)
        self.size_slider.setValue(side)
        self.size_slider.setFixedWidth(140)
        self.size_slider.setToolTip("Thumbnail size")
        self.size_slider.valueChanged.connect(self._size_changed)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 2)
        bar.addWidget(self.count_label, 1)
        bar.addWidget(QLabel("Sort by"))
        bar.addWidget(self.sort_box)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Size"))
        bar.addWidget(self.size_slider)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.grid, 1)

    def sort_key(self) -> str:
        return self.sort_box.currentData()

    def _size_changed(self, value: int) -> None:
        self.grid.set_thumb_side(value)
        self.thumb_size_changed.emit(value)

    def update_count(self, indexing: bool = False) -> None:
        n = self.model.rowCount()
        if n == 0 and not indexing:
            self.count_label.setText("No photos yet — add a folder (Ctrl+O) or drop one here")
        else:
            self.count_label.setText(f"{n:,} photos" + (" (indexing…)" if indexing else ""))
