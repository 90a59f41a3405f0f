"""A duplicate group at a glance: its photos side by side, large, the copy kept marked, and
under each what tells them apart (resolution, size, date, path), as digiKam's duplicates
album and Krokiet's preview show them. Clicking a photo highlights its row in the table;
the Duplicates tab's keys (N, P, K, X, D) work on what is shown here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QVBoxLayout, QWidget,
)

from ..core.duplicates import DuplicateGroup, GroupMember
from ..core.group_kind import LABELS, member_label
from .models import human_bytes
from .widgets import ElidedLabel
from .workers import ThumbnailLoader

THUMB_SIDE = 256  # the thumbnail asked for; shown at the card's side
SIDE_RANGE = (96, 360)  # a card's picture side follows the strip's height within these
CARD_MIN_TEXT = 190  # px a card's lines have at least, beside a small picture
KEEP_COLOUR = "#1e8246"
TICK_COLOUR = "#b3261e"


class GlanceCard(QFrame):
    """One photo of the group: picture, what it is (copy kept, identical, 97.2 %), its facts."""

    clicked = Signal(int)
    double_clicked = Signal(int)

    def __init__(self, index: int, side: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.setObjectName("glanceCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # One line each, elided (never cut mid-letter), the whole text in their tooltips.
        self.badge = ElidedLabel("", Qt.TextElideMode.ElideRight)
        self.badge.setObjectName("glanceBadge")
        self.size_line = ElidedLabel("", Qt.TextElideMode.ElideRight)
        self.date_line = ElidedLabel("", Qt.TextElideMode.ElideRight)
        self.folder_line = ElidedLabel("")
        for label in (self.badge, self.size_line, self.date_line, self.folder_line):
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(1)
        lay.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        for w in (self.badge, self.size_line, self.date_line, self.folder_line):
            lay.addWidget(w)
        self._pixmap: QPixmap | None = None
        self._what = ""
        self._size = ""
        self.date = ""
        self.path = ""
        self.current = False
        self.ticked = False
        self.keeper = False
        self.set_side(side)

    def set_side(self, side: int) -> None:
        self.side = side
        self.picture.setFixedSize(QSize(side, side))
        self.setFixedWidth(max(side, CARD_MIN_TEXT) + 14)
        self._show_pixmap()

    def set_member(self, member: GroupMember, keeper: bool, label: str, ticked: bool, reference: bool) -> None:
        row = member.row
        self.path = row.path
        self.keeper = keeper
        what = "★ Keep" if keeper else label
        if not keeper:
            what += " · identical" if member.exact else f" · {member.score * 100:.1f}%"
        if reference:
            what += " · reference"
        self._what = what
        self._size = f"{row.width} × {row.height} · {human_bytes(row.size)}" if row.width else human_bytes(row.size)
        self.size_line.set_full_text(self._size)
        # The whole path, cut in the middle: the folder's start and the name's end stay.
        self.folder_line.set_full_text(row.path)
        self.folder_line.setToolTip(row.path)
        self.setToolTip(row.path)
        self.set_ticked(ticked)

    def set_date(self, text: str) -> None:
        self.date = text
        self.date_line.set_full_text(text)

    def set_ticked(self, ticked: bool) -> None:
        self.ticked = ticked
        self._style()

    def set_current(self, current: bool) -> None:
        self.current = current
        self._style()

    def set_pixmap(self, pm: QPixmap | None, failed: bool = False) -> None:
        self._pixmap = pm
        if failed:
            self.picture.setText("cannot be shown")
        self._show_pixmap()

    def _show_pixmap(self) -> None:
        if self._pixmap is not None and not self._pixmap.isNull():
            self.picture.setPixmap(self._pixmap.scaled(self.side, self.side, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))

    def _style(self) -> None:
        border = "#2f7de1" if self.current else (KEEP_COLOUR if self.keeper else "#c8c8c8")
        width = 3 if self.current else 1
        back = "#e8f5ec" if self.keeper else ("#fbe9e7" if self.ticked else "transparent")
        self.setStyleSheet(f"QFrame#glanceCard {{ border: {width}px solid {border}; border-radius: 4px; "
                           f"background: {back}; }}")
        colour = KEEP_COLOUR if self.keeper else (TICK_COLOUR if self.ticked else "palette(text)")
        self.badge.setStyleSheet(f"color: {colour}; font-weight: bold;")
        self.badge.set_full_text(("✓ " if self.ticked and not self.keeper else "") + self._what)
        self.badge.setToolTip(f"{self._what}{' · ticked for removal' if self.ticked and not self.keeper else ''}")

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.index)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.double_clicked.emit(self.index)


class GroupGlance(QWidget):
    """The highlighted group's photos side by side (see the module's docstring)."""

    member_clicked = Signal(int, int)  # group, member
    compare_requested = Signal(int, int)  # group, member (compared with the copy kept)
    previous_requested = Signal()
    next_requested = Signal()

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("groupGlance")
        self.loader = loader
        self.group_number: int | None = None
        self.group: DuplicateGroup | None = None
        self.cards: list[GlanceCard] = []
        self.side = 160
        self.title = ElidedLabel("Highlight a group to see its photos side by side", Qt.TextElideMode.ElideRight)
        self.title.setObjectName("glanceTitle")
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        # Elided, never widening the window; whole in its tooltip.
        self.keys = ElidedLabel("N next · P previous · K keep this one · X tick · D not duplicates",
                                Qt.TextElideMode.ElideRight)
        self.keys.setToolTip("Keys in the table: N next group, P previous group, K keep the highlighted photo, "
                             "X tick or untick it for removal, D not duplicates")
        self.keys.setObjectName("glanceKeys")
        self.keys.setStyleSheet("color: palette(mid);")
        self.prev_button = QPushButton("◀ Previous group")
        self.prev_button.setObjectName("glancePrevious")
        self.prev_button.setToolTip("The group before this one (P)")
        self.prev_button.clicked.connect(self.previous_requested.emit)
        self.next_button = QPushButton("Next group ▶")
        self.next_button.setObjectName("glanceNext")
        self.next_button.setToolTip("The group after this one (N)")
        self.next_button.clicked.connect(self.next_requested.emit)
        for b in (self.prev_button, self.next_button):
            b.setAutoDefault(False)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys go on working in the table
        head = QHBoxLayout()
        head.setContentsMargins(8, 4, 8, 2)
        head.addWidget(self.title, 2)
        head.addWidget(self.keys, 1)
        head.addWidget(self.prev_button)
        head.addWidget(self.next_button)
        self.strip = QWidget()
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(8, 2, 8, 6)
        self.strip_layout.setSpacing(8)
        self.strip_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("glanceScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.strip)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addWidget(self.scroll, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(SIDE_RANGE[0] + self.text_room())
        loader.ready.connect(self.refresh_pictures)

    # -- content -------------------------------------------------------------------------------
    def show_group(self, number: int | None, group: DuplicateGroup | None, total: int,
                   ticked: set[str], is_reference: Callable[[str], bool], current: int | None = None) -> None:
        """Show ``group`` (number ``number`` of ``total``, from 0), or nothing."""
        same = group is not None and self.group is not None and number == self.group_number and \
            [m.row.path for m in group.members] == [c.path for c in self.cards]
        self.group_number, self.group = number, group
        if group is None or number is None:
            self._clear()
            self.title.set_full_text("Highlight a group to see its photos side by side")
            return
        self.title.set_full_text(f"Group {number + 1} of {total} · {LABELS[group.kind]} · "
                                 f"{len(group.members)} photos")
        if not same:
            self._clear()
            for i, m in enumerate(group.members):
                card = GlanceCard(i, self.side)
                card.clicked.connect(lambda i, n=number: self.member_clicked.emit(n, i))
                card.double_clicked.connect(lambda i, n=number: self.compare_requested.emit(n, i))
                self.strip_layout.insertWidget(self.strip_layout.count() - 1, card)
                self.cards.append(card)
        for i, (card, m) in enumerate(zip(self.cards, group.members)):
            card.set_member(m, i == 0, member_label(group.kind, m.row.path, m.exact), m.row.path in ticked,
                            is_reference(m.row.path))
        self.set_current(current)
        self.refresh_pictures()

    def set_dates(self, dates: Mapping[str, str]) -> None:
        """Each photo's date taken (or what there is instead), once a worker has read them."""
        for card in self.cards:
            if card.path in dates:
                card.set_date(dates[card.path])

    def set_ticked(self, ticked: set[str]) -> None:
        for card in self.cards:
            card.set_ticked(card.path in ticked)

    def set_current(self, member: int | None) -> None:
        for card in self.cards:
            card.set_current(card.index == member)
        if member is not None and 0 <= member < len(self.cards):
            self.scroll.ensureWidgetVisible(self.cards[member], 8, 0)

    def refresh_pictures(self) -> None:
        for card in self.cards:
            pm = self.loader.pixmap(card.path, THUMB_SIDE)
            if pm is ThumbnailLoader.FAILED:
                card.set_pixmap(None, failed=True)
            elif isinstance(pm, QPixmap):
                card.set_pixmap(pm)

    def _clear(self) -> None:
        for card in self.cards:
            self.strip_layout.removeWidget(card)
            card.deleteLater()
        self.cards = []

    def text_room(self) -> int:
        """Px of the strip's height that are not picture: the title row, a card's four lines
        and the margins."""
        line = self.fontMetrics().height()
        return (line + 16) + 4 * (line + 2) + 26

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        side = max(SIDE_RANGE[0], min(SIDE_RANGE[1], self.height() - self.text_room()))
        if side != self.side:
            self.side = side
            for card in self.cards:
                card.set_side(side)
