"""Painting grid cells: thumbnail (lazy, placeholder until loaded or if unreadable),
elided file name, and a similarity badge. Painting never decodes: it asks the
``ThumbnailLoader``, which loads off the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .models import BadgeRole, DistinctRole, FolderHintRole, PathRole, ScoreRole
from .workers import ThumbnailLoader

PADDING = 6
TEXT_LINES = 1


def elide_name(fm: QFontMetrics, name: str, distinct: int, width: int) -> str:
    """``name`` in ``width`` px, keeping what tells it apart from its neighbours: the text
    from ``distinct`` (where it differs from the most alike name; ``distinct_starts``) on,
    and as much of the start as fits before it ("IMG_2023…142234.jpg"), not the middle cut
    that hides the one digit two burst shots differ by."""
    if fm.horizontalAdvance(name) <= width:
        return name
    cut = max(0, min(distinct, len(name)) - 2)  # two characters of context before the difference
    tail = name[cut:]
    if cut == 0 or fm.horizontalAdvance("…" + tail) > width:
        # The differing part alone is too long: from a little before it, cut at the end
        # (the extension goes first), or the usual middle cut when the names differ early.
        if cut == 0:
            return fm.elidedText(name, Qt.TextElideMode.ElideMiddle, width)
        return fm.elidedText("…" + tail, Qt.TextElideMode.ElideRight, width)
    head = fm.elidedText(name[:cut], Qt.TextElideMode.ElideRight, width - fm.horizontalAdvance(tail))
    return head + tail if head else "…" + tail


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, loader: ThumbnailLoader, side: int, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.side = side

    def load_side(self) -> int:
        """Thumbnails are cached in a few sizes only, so resizing the grid reuses them."""
        return 128 if self.side <= 128 else 256

    def box_height(self) -> int:
        """Cells are 5:4 - most photos are landscape, so a square cell would be mostly air."""
        return self.side * 4 // 5

    def cell_size(self) -> QSize:
        return QSize(self.side + 2 * PADDING, self.box_height() + 2 * PADDING + 18)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return self.cell_size()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        rect = option.rect
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect.adjusted(1, 1, -1, -1), palette.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect.adjusted(1, 1, -1, -1), palette.color(QPalette.ColorRole.AlternateBase))
        box = QRect(rect.x() + (rect.width() - self.side) // 2, rect.y() + PADDING, self.side, self.box_height())
        path = index.data(PathRole)
        pm = self.loader.pixmap(path, self.load_side()) if path else None
        picture = box
        if pm is None or pm is ThumbnailLoader.FAILED:
            painter.fillRect(box, palette.color(QPalette.ColorRole.Mid).lighter(135))
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
            painter.drawRect(box.adjusted(0, 0, -1, -1))
            if pm is ThumbnailLoader.FAILED:
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "can't read")
        else:
            scaled = pm.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            target.moveBottom(box.bottom())  # names sit right under their photo
            picture = target
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawPixmap(target, pm)
        score = index.data(ScoreRole)
        if score is not None:
            text = f"{score * 100:.1f}%"
            font = QFont(option.font)
            font.setBold(True)
            painter.setFont(font)
            fm = painter.fontMetrics()
            badge = QRect(0, 0, fm.horizontalAdvance(text) + 10, fm.height() + 4)
            badge.moveTopRight(picture.topRight())
            badge.translate(-3, 3)
            colour = QColor(32, 140, 80) if score >= 0.9 else QColor(60, 90, 160) if score >= 0.8 else QColor(90, 90, 90)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
            painter.setFont(option.font)
        note = index.data(BadgeRole)
        if note:  # "+3 copies" under a result, "copy" on a copy shown in place
            fm = painter.fontMetrics()
            badge = QRect(0, 0, fm.horizontalAdvance(note) + 10, fm.height() + 4)
            badge.moveBottomLeft(picture.bottomLeft())
            badge.translate(3, -3)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(40, 40, 40, 210))
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, note)
        self._paint_label(painter, option, index, QRect(box.x(), box.bottom() + 3, self.side, 16), selected)
        painter.restore()

    def _paint_label(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex, rect: QRect,
                     selected: bool) -> None:
        """The file name; when another photo shown has the same name, its folder first, dimmer
        ("Holidays/IMG_0001.jpg"), the folder elided before the name is."""
        palette = option.palette
        fm = option.fontMetrics
        text_colour = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        hint = index.data(FolderHintRole)
        label = index.data() or ""
        distinct = index.data(DistinctRole) or 0
        centre = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter
        if not hint:
            painter.setPen(text_colour)
            painter.drawText(rect, centre, elide_name(fm, label, distinct, rect.width()))
            return
        name = label[len(hint) + 1:]
        folder_room = rect.width() - fm.horizontalAdvance(name)
        if folder_room < fm.horizontalAdvance("…/") + fm.horizontalAdvance("M") * 3:
            # Too narrow for both: the name, with the part that tells it apart kept.
            painter.setPen(text_colour)
            painter.drawText(rect, centre, elide_name(fm, name, distinct, rect.width()))
            return
        folder = fm.elidedText(hint + "/", Qt.TextElideMode.ElideMiddle, folder_room)
        width = fm.horizontalAdvance(folder) + fm.horizontalAdvance(name)
        x = rect.x() + (rect.width() - width) // 2
        dim = QColor(text_colour)
        dim.setAlphaF(0.6)
        painter.setPen(dim)
        painter.drawText(QRect(x, rect.y(), fm.horizontalAdvance(folder), rect.height()), Qt.AlignmentFlag.AlignVCenter, folder)
        painter.setPen(text_colour)
        x += fm.horizontalAdvance(folder)
        painter.drawText(QRect(x, rect.y(), rect.right() - x + 1, rect.height()), Qt.AlignmentFlag.AlignVCenter, name)
