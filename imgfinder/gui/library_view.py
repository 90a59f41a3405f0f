"""The library tab: every indexed photo as a thumbnail grid, with sorting and size; and,
while the library is empty, a call to action in the middle of the tab (add a folder, or
drop photos on the window)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QStackedWidget, QVBoxLayout, QWidget,
)

from .icons import icon
from .models import PhotoListModel
from .widgets import PhotoGrid
from .wording import photos
from .workers import ThumbnailLoader

SORTS = [("name", "Name"), ("date", "Date taken"), ("size", "File size")]


class EmptyLibrary(QWidget):
    """What a new user sees first: what to do, and the button that does it."""

    add_folder_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyLibrary")
        picture = QLabel()
        picture.setPixmap(icon("library").pixmap(QSize(72, 72)))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel()
        self.title.setObjectName("emptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.text = QLabel()
        self.text.setObjectName("emptyText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        self.text.setMaximumWidth(520)
        self.button = QPushButton(icon("folder-add"), "Add a photo folder…")
        self.button.setObjectName("emptyAddFolder")
        self.button.setIconSize(QSize(20, 20))
        self.button.setMinimumHeight(36)
        self.button.setDefault(True)
        self.button.setToolTip("Choose a folder of photos to index (Ctrl+O)")
        self.button.clicked.connect(self.add_folder_requested.emit)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.button)
        row.addStretch(1)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        text_row = QHBoxLayout()  # the paragraph takes up to 520 px, centred
        text_row.addStretch(1)
        text_row.addWidget(self.text, 6)
        text_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(picture)
        layout.addSpacing(8)
        layout.addWidget(self.title)
        layout.addLayout(text_row)
        layout.addSpacing(12)
        layout.addLayout(row)
        layout.addStretch(3)
        self.set_indexing(False)

    def set_indexing(self, indexing: bool) -> None:
        if indexing:
            self.title.setText("Looking for photos…")
            self.text.setText("They appear here as they are indexed. This runs in the background: "
                              "you can keep using the window.")
        else:
            self.title.setText("Your library is empty")
            self.text.setText("Add a folder of photos to find duplicates and similar pictures in it. "
                              "You can also drop folders or photos anywhere on this window: "
                              "a dropped photo finds the photos that look like it.")
        self.button.setVisible(not indexing)


class LibraryView(QWidget):
    sort_changed = Signal(str)
    thumb_size_changed = Signal(int)
    add_folder_requested = Signal()

    def __init__(self, loader: ThumbnailLoader, side: int, sort_key: str, parent=None) -> None:
        super().__init__(parent)
        self.model = PhotoListModel(self)
        self.grid = PhotoGrid(loader, side, self)
        self.grid.setModel(self.model)
        self.grid.setObjectName("libraryGrid")
        self.empty = EmptyLibrary()
        self.empty.add_folder_requested.connect(self.add_folder_requested.emit)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(self.grid)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        self.count_label.setMinimumWidth(60)
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.sort_box = QComboBox()
        self.sort_box.setObjectName("sortBox")
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
        self.bar = QWidget()
        bar = QHBoxLayout(self.bar)
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
        layout.addWidget(self.bar)
        layout.addWidget(self.pages, 1)
        for sig in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            sig.connect(self._sync_page)
        self.update_count()

    def sort_key(self) -> str:
        return self.sort_box.currentData()

    def is_empty_shown(self) -> bool:
        return self.pages.currentWidget() is self.empty

    def _size_changed(self, value: int) -> None:
        self.grid.set_thumb_side(value)
        self.thumb_size_changed.emit(value)

    def _sync_page(self, *_: object) -> None:
        n = self.model.rowCount()
        self.pages.setCurrentWidget(self.grid if n else self.empty)
        self.bar.setVisible(bool(n))  # sorting and sizing nothing only distracts from the call to action

    def update_count(self, indexing: bool = False) -> None:
        self._sync_page()
        self.empty.set_indexing(indexing)
        # While indexing, the grid holds the library so far, a number unlike the progress
        # bar's (files of this run): say which it is.
        n = self.model.rowCount()
        self.count_label.setText(f"{photos(n)} in the library so far, indexing…" if indexing else photos(n))
