"""Small reusable widgets: an eliding label (long paths never widen the window), a toolbar
that drops its labels before it hides buttons, and the photo grid (a QListView in icon
mode with uniform cells, so 100,000 items lay out in constant time)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView, QLabel, QListView, QSizePolicy, QStyle, QStyleOption, QToolBar, QToolButton,
)

from .delegates import ThumbnailDelegate
from .workers import ThumbnailLoader


class ElidedLabel(QLabel):
    """A one-line label that elides (middle by default) instead of growing; full text in the tooltip."""

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle, parent=None) -> None:
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(20)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self._full = text or ""
        self.setToolTip(self._full if len(self._full) > 30 else "")
        self.update()

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:
        return QSize(20, self.fontMetrics().height())

    def sizeHint(self) -> QSize:
        return QSize(min(400, self.fontMetrics().horizontalAdvance(self._full) + 4), self.fontMetrics().height() + 2)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        opt = QStyleOption()
        opt.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, opt, painter, self)
        text = self.fontMetrics().elidedText(self._full, self._mode, self.contentsRect().width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), text)


class LabelsWhenRoom(QObject):
    """Keeps a toolbar's buttons on screen when it is narrow: labels go first (the label
    stays as the tooltip), from the last button back; those of ``keep_longest`` go last,
    and its first one keeps its label longest.
    Without it a narrow window hides the last buttons (Trash, Move, Undo in the
    Duplicates tab) behind the overflow arrow."""

    def __init__(self, toolbar: QToolBar, keep_longest: Sequence[QAction] = ()) -> None:
        super().__init__(toolbar)
        self.toolbar = toolbar
        self.keep_longest = list(keep_longest)
        toolbar.installEventFilter(self)

    def _buttons(self) -> list[QToolButton]:
        """The buttons whose labels may go, in the order they go."""
        actions = [a for a in self.toolbar.actions() if not a.isSeparator() and not a.icon().isNull()]
        order = [a for a in reversed(actions) if a not in self.keep_longest]
        order += [a for a in reversed(self.keep_longest) if a in actions]
        buttons = [self.toolbar.widgetForAction(a) for a in order]
        return [b for b in buttons if isinstance(b, QToolButton)]

    def fit(self) -> None:
        buttons = self._buttons()
        for button in buttons:
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        room = self.toolbar.width()
        for button in buttons:
            if self.toolbar.sizeHint().width() <= room:
                break
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def labelled(self) -> list[str]:
        """The texts of the buttons that show their label now (for tests)."""
        return [b.defaultAction().text() for b in self._buttons()
                if b.toolButtonStyle() != Qt.ToolButtonStyle.ToolButtonIconOnly]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.toolbar and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.fit()
        return False


class PhotoGrid(QListView):
    """Thumbnail grid; Space asks for a preview (the window decides what that shows)."""

    preview_requested = Signal()

    def __init__(self, loader: ThumbnailLoader, side: int, parent=None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setSpacing(2)
        self.setWordWrap(False)
        self.setDragEnabled(False)
        self.setAcceptDrops(False)  # drops go to the main window
        self.thumbs = ThumbnailDelegate(loader, side, self)
        self.setItemDelegate(self.thumbs)
        self.setGridSize(self.thumbs.cell_size())
        loader.ready.connect(self.viewport().update)

    def set_thumb_side(self, side: int) -> None:
        self.thumbs.side = side
        self._fit_columns()
        self.doItemsLayout()

    def _fit_columns(self) -> None:
        """Widen cells so the columns fill the row (no ragged empty band on the right)."""
        cell = self.thumbs.cell_size()
        width = self.viewport().width() - 2 * self.spacing() - 1
        columns = max(1, width // cell.width())
        self.setGridSize(QSize(max(cell.width(), width // columns), cell.height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            self.preview_requested.emit()
            return
        super().keyPressEvent(event)
