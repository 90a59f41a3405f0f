"""Side-by-side compare: both photos with zoom and pan that keep the same picture area\nunder both views (whatever their sizes, a crop or a mirror included), their metadata\nwith differences highlighted, and an optional overlay of where the pixels differ."""

from __future__ import annotations

import os

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QHBoxLayout,
    QHeaderView, QLabel, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from ..core.alignment import Alignment
from ..core.duplicates import GroupMember
from ..core.metadata import PhotoInfo
from .models import human_bytes
from .widgets import ElidedLabel

DIFF_BG = QColor(255, 200, 60, 110)


class ZoomView(QGraphicsView):
    """A pannable, zoomable picture; ``zoomed`` lets its twin follow."""

    zoomed = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor(40, 40, 44)))
        self.item = QGraphicsPixmapItem()
        self.overlay = QGraphicsPixmapItem()
        self.overlay.setVisible(False)
        self.overlay.setOpacity(0.75)
        self.scene().addItem(self.item)
        self.scene().addItem(self.overlay)
        self.fit_mode = True

    def set_image(self, image: QImage | None, overlay: QImage | None = None,
                  size: tuple[int, int] | None = None) -> None:
        """Show ``image`` in scene units of the photo's own full-size pixels (``size``), so
        a point of the scene is a point of the photo whatever size was decoded for display:
        what lets the twin view show the same picture area (``core.alignment``)."""
        if image is None or image.isNull():
            return
        width, height = size or (image.width(), image.height())
        self.item.setPixmap(QPixmap.fromImage(image))
        self.item.setScale(width / image.width())
        if overlay is not None and not overlay.isNull():
            self.overlay.setPixmap(QPixmap.fromImage(overlay))
            self.overlay.setScale(width / overlay.width())
        self.scene().setSceneRect(QRectF(0, 0, width, height))
        self.fit()

    def centre(self) -> tuple[float, float]:
        """The photo pixel under the middle of the view."""
        p = self.mapToScene(self.viewport().rect().center())
        return p.x(), p.y()

    def fit(self) -> None:
        self.fit_mode = True
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        self.fit_mode = False
        self.resetTransform()
        self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        step = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.fit_mode = False
        self.scale(step, step)
        self.zoomed.emit(self.zoom())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fit_mode:
            self.fit()


def _fields(info: PhotoInfo, member: GroupMember | None) -> list[tuple[str, str]]:
    return [
        ("File", os.path.basename(info.path)),
        ("Folder", os.path.dirname(info.path)),
        ("Dimensions", f"{info.width} × {info.height}" if info.width else "?"),
        ("File size", human_bytes(info.size) if info.size is not None else "?"),
        ("Format", info.format or "?"),
        ("Date taken", info.date_taken or "—"),
        ("Camera", info.camera or "—"),
        ("Similarity", ("identical bytes" if member.exact else f"{member.score * 100:.1f}%") if member else "—"),
    ]


class CompareDialog(QDialog):
    """Two photos side by side. Images arrive later from a worker (``set_data``)."""

    def __init__(self, left: GroupMember, right: GroupMember, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare photos")
        self.members = [left, right]
        self.resize(1200, 760)
        self.views = [ZoomView(), ZoomView()]
        self.titles = [ElidedLabel(left.row.path), ElidedLabel(right.row.path)]
        for t in self.titles:
            f = t.font()
            f.setBold(True)
            t.setFont(f)
        panes = QSplitter(Qt.Orientation.Horizontal)
        for title, view in zip(self.titles, self.views):
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(2, 2, 2, 2)
            lay.addWidget(title)
            lay.addWidget(view, 1)
            panes.addWidget(box)
        self._syncing = False
        # left photo's pixels -> right's; until the worker has matched them, their frames
        self.alignment: Alignment | None = None
        for a in (0, 1):
            va = self.views[a]
            va.horizontalScrollBar().valueChanged.connect(lambda v, s=a: self._sync(s))
            va.verticalScrollBar().valueChanged.connect(lambda v, s=a: self._sync(s))
            va.zoomed.connect(lambda z, s=a: self._follow_zoom(s))
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("compareTable")
        self.table.setHorizontalHeaderLabels(["", "Left", "Right"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setMinimumHeight(8 * (self.fontMetrics().height() + 8) + self.fontMetrics().height() + 12)
        self.status = QLabel("Loading…")
        self.diff_box = QCheckBox("Highlight pixel differences")
        self.diff_box.toggled.connect(self._toggle_diff)
        buttons = QHBoxLayout()
        for text, slot in (("Fit", self.fit), ("100%", lambda: self.zoom_to(1.0)),
                           ("Zoom in", lambda: self.zoom_by(1.25)), ("Zoom out", lambda: self.zoom_by(0.8))):
            b = QPushButton(text)
            b.clicked.connect(slot)
            b.setAutoDefault(False)
            buttons.addWidget(b)
        buttons.addWidget(self.diff_box)
        buttons.addWidget(self.status, 1)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons.addWidget(close)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(panes)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

    def set_data(self, data) -> None:
        """Show what the ``jobs.compare`` worker produced (QImages, PhotoInfos, diff)."""
        self.alignment = data.alignment
        for i, view in enumerate(self.views):
            view.set_image(data.images[i], data.diffs[i], data.sizes[i] if i < len(data.sizes) else None)
        errors = [e for e in data.errors if e]
        if errors:
            self.status.setText("Cannot show: " + "; ".join(errors))
        elif data.diff_fraction is not None:
            where = "of the matched area" if data.alignment is not None and data.alignment.matched else "of pixels"
            self.status.setText(f"{data.diff_fraction * 100:.1f}% {where} differ noticeably")
        else:
            self.status.setText("")
        self.diff_box.setEnabled(data.diff is not None)
        rows = [_fields(info, m if i == 1 else None) for i, (info, m) in enumerate(zip(data.infos, self.members))]
        self.table.setRowCount(len(rows[0]))
        for r, ((name, left), (_, right)) in enumerate(zip(rows[0], rows[1])):
            items = [QTableWidgetItem(name), QTableWidgetItem(left), QTableWidgetItem(right)]
            items[1].setToolTip(left)
            items[2].setToolTip(right)
            if left != right and name not in ("Similarity",):
                for it in items[1:]:
                    it.setBackground(QBrush(DIFF_BG))
            for c, it in enumerate(items):
                self.table.setItem(r, c, it)

    def _toggle_diff(self, on: bool) -> None:
        for v in self.views:
            v.overlay.setVisible(on)

    def _map(self, source: int) -> Alignment | None:
        """Source view's photo pixels -> the other view's."""
        if self.alignment is None:
            return None
        return self.alignment if source == 0 else self.alignment.inverse()

    def _sync(self, source: int) -> None:
        """Put under the other view's middle the picture point under this one's."""
        m = self._map(source)
        if self._syncing or m is None:
            return
        self._syncing = True
        target = self.views[1 - source]
        target.centerOn(*m.map(*self.views[source].centre()))
        self._syncing = False

    def _follow_zoom(self, source: int) -> None:
        """Zoom the other view so it shows as much of the picture as this one does."""
        m = self._map(source)
        if self._syncing or m is None:
            return
        self._syncing = True
        view = self.views[source]
        self.views[1 - source].set_zoom(view.zoom() / m.scale)
        self._syncing = False
        self._sync(source)

    def fit(self) -> None:
        for v in self.views:
            v.fit()

    def zoom_to(self, factor: float) -> None:
        """The left photo at ``factor`` screen pixels per photo pixel; the right one shows
        the same picture area (the same factor when the two are of one size)."""
        self.views[0].set_zoom(factor)
        if self.alignment is None:
            self.views[1].set_zoom(factor)
        else:
            self._follow_zoom(0)

    def zoom_by(self, step: float) -> None:
        z = self.views[0].zoom() * step
        self.zoom_to(z)
