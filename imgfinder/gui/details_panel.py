"""The details panel: a preview and the facts of the current photo (path, dimensions,
size, format, date taken, camera, lens, exposure, place). Metadata is read by a worker;
this only displays it. Lens, exposure and place are shown only when the photo has them;
the place opens on OpenStreetMap in the browser when the user asks (nothing is fetched
otherwise)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QFormLayout, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QVBoxLayout,
)

from ..core.catalog import FileRow
from ..core.metadata import PhotoInfo
from .models import human_bytes
from .widgets import ElidedLabel
from .workers import ThumbnailLoader

PREVIEW = 256
# Rows shown only when the photo has them (most screenshots and edited files have none).
OPTIONAL = ("Lens", "Exposure", "Location")


class DetailsPanel(QFrame):
    find_similar_requested = Signal(str)
    show_in_folder_requested = Signal(str)

    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(200)
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
        self._form_rows: dict[str, int] = {}
        self.map_url: str | None = None
        self.map_button = QToolButton()
        self.map_button.setObjectName("mapButton")
        self.map_button.setText("Map")
        self.map_button.setAutoRaise(True)
        self.map_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.map_button.setStyleSheet(  # reads as a link: it opens the browser
            "QToolButton#mapButton { color: palette(link); text-decoration: underline; border: none; padding: 0 2px; }"
            "QToolButton#mapButton:disabled { color: palette(mid); text-decoration: none; }"
        )
        self.map_button.setToolTip("Open this place on OpenStreetMap in your web browser")
        self.map_button.clicked.connect(self.open_map)
        self.form = form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key in ("Folder", "Dimensions", "File size", "Format", "Date taken", "Camera", *OPTIONAL):
            label = ElidedLabel("—")
            self.fields[key] = label
            if key == "Location":
                row = QHBoxLayout()
                row.setContentsMargins(0, 0, 0, 0)
                row.addWidget(label, 1)
                row.addWidget(self.map_button)
                form.addRow(key, row)
            else:
                form.addRow(key, label)
            self._form_rows[key] = form.rowCount() - 1
        self._show_optional({})
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
            self._show_optional({})
            self._set_enabled(False)
            return
        self.path = row.path
        self.name.set_full_text(os.path.basename(row.path))
        self.fields["Folder"].set_full_text(os.path.dirname(row.path))
        self.fields["Dimensions"].set_full_text(f"{row.width} × {row.height}" if row.width else "?")
        self.fields["File size"].set_full_text(human_bytes(row.size))
        for key in ("Date taken", "Camera", "Format", *OPTIONAL):  # until show_info (rows stay as they were)
            self.fields[key].set_full_text("…")
        self.map_url = None  # this photo's place, if any, comes with show_info
        self.map_button.setEnabled(False)
        self._set_enabled(True)
        self.preview.setText("")
        self._refresh_preview()

    def show_info(self, info: PhotoInfo) -> None:
        if info.path != self.path:
            return  # the selection moved on
        self.fields["Date taken"].set_full_text(info.taken or "unknown")
        self.fields["Camera"].set_full_text(info.camera or "unknown")
        self.fields["Format"].set_full_text(info.format or "?")
        if info.width:
            self.fields["Dimensions"].set_full_text(f"{info.width} × {info.height}")
        if info.error:
            self.fields["Format"].set_full_text(info.error)
        self._show_optional({"Lens": info.lens, "Exposure": info.exposure, "Location": info.location})
        if info.location:
            self.fields["Location"].setToolTip(", ".join(x for x in (info.location, info.altitude_text) if x))
        self.map_url = info.map_url
        self.map_button.setEnabled(self.map_url is not None)

    def _show_optional(self, values: dict[str, str | None]) -> None:
        """Lens, exposure and place: shown with their value, hidden when the photo has none."""
        for key in OPTIONAL:
            value = values.get(key)
            if value:
                self.fields[key].set_full_text(value)
            self.form.setRowVisible(self._form_rows[key], bool(value))
        if not values.get("Location"):
            self.map_url = None

    def open_map(self) -> None:
        """Show the photo's place on OpenStreetMap in the browser (only when asked)."""
        if self.map_url:
            QDesktopServices.openUrl(QUrl(self.map_url))

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
