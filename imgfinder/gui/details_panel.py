"""The details panel: a preview and the facts of the current photo (path, dimensions,
size, date taken, camera). Metadata is read by a worker; this only displays it."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QPushButton, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from ..core.catalog import FileRow
from ..core.metadata import PhotoInfo
from .models import human_bytes
from .widgets import ElidedLabel
from .workers import ThumbnailLoader

PREVIEW = 256


class DetailsPanel(QFrame):
    find_similar_requested = Signal(str)
    show_in_folder_requested = Signal(str)

    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(240)
        self.setMaximumWidth(420)
        self.loader = loader
        self.path: str | None = None
        self.preview = QLabel("No photo selected")
        self.preview.setObjectName("detailsPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(PREVIEW)
        self.preview.setMinimumWidth(1)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.preview.setStyleSheet("QLabel#detailsPreview { background: palette(window); color: palette(mid); }")
        self.name = ElidedLabel("")
        f = self.name.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.1)
        self.name.setFont(f)
        self.fields: dict[str, ElidedLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key in ("Folder", "Dimensions", "File size", "Date taken", "Camera", "Format"):
            label = ElidedLabel("—")
            self.fields[key] = label
            form.addRow(key, label)
        self.similar_button = QPushButton("Find similar")
        self.similar_button.clicked.connect(lambda: self.path and self.find_similar_requested.emit(self.path))
        self.folder_button = QPushButton("Show in folder")
        self.folder_button.clicked.connect(lambda: self.path and self.show_in_folder_requested.emit(self.path))
        buttons = QHBoxLayout()
        buttons.addWidget(self.similar_button)
        buttons.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview)
        layout.addWidget(self.name)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._set_enabled(False)
        loader.ready.connect(self._refresh_preview)

    def _set_enabled(self, on: bool) -> None:
        self.similar_button.setEnabled(on)
        self.folder_button.setEnabled(on)

    def show_row(self, row: FileRow | None) -> None:
        """Show what the catalog knows at once; ``show_info`` fills in EXIF later."""
        if row is None:
            self.path = None
            self.preview.setPixmap(QPixmap())
            self.preview.setText("No photo selected")
            self.name.set_full_text("")
            for label in self.fields.values():
                label.set_full_text("—")
            self._set_enabled(False)
            return
        self.path = row.path
        self.name.set_full_text(os.path.basename(row.path))
        self.fields["Folder"].set_full_text(os.path.dirname(row.path))
        self.fields["Dimensions"].set_full_text(f"{row.width} × {row.height}" if row.width else "?")
        self.fields["File size"].set_full_text(human_bytes(row.size))
        self.fields["Date taken"].set_full_text("…")
        self.fields["Camera"].set_full_text("…")
        self.fields["Format"].set_full_text("…")
        self._set_enabled(True)
        self.preview.setText("")
        self._refresh_preview()

    def show_info(self, info: PhotoInfo) -> None:
        if info.path != self.path:
            return  # the selection moved on
        self.fields["Date taken"].set_full_text(info.date_taken or "unknown")
        self.fields["Camera"].set_full_text(info.camera or "unknown")
        self.fields["Format"].set_full_text(info.format or "?")
        if info.width:
            self.fields["Dimensions"].set_full_text(f"{info.width} × {info.height}")
        if info.error:
            self.fields["Format"].set_full_text(info.error)

    def _refresh_preview(self) -> None:
        if not self.path:
            return
        pm = self.loader.pixmap(self.path, 256)
        if isinstance(pm, QPixmap):
            w = max(64, min(self.width() - 24, 380))
            self.preview.setPixmap(pm.scaled(w, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))
        elif pm is ThumbnailLoader.FAILED:
            self.preview.setPixmap(QPixmap())
            self.preview.setText(self.loader.failure(self.path, 256) or "cannot read")
