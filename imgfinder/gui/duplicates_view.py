"""The duplicates tab: groups with the suggested keeper marked, a similarity slider that
regroups instantly, selection by hand or by rules, and the actions on the selection."""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QKeySequence, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolBar,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..core.duplicates import DEFAULT_FLOOR, KEEP_LABELS, DuplicateGroup, GroupMember, KeepPreference, removable_copies
from ..core.file_actions import is_under
from ..core.group_kind import KIND_COPIES, KIND_EXACT, KIND_RAW_JPEG, KIND_SHOTS, LABELS, member_label
from .delegates import elide_name
from .duplicates_navigation import GroupNavigation
from .duplicates_selection import DuplicateSelection
from .duplicates_table import COLUMNS, FOLDER_MIN, GLANCE_SHARE, NAME_INSET, PHOTO_COLUMN, MemberRole  # noqa: F401 - for callers
from .group_glance import GroupGlance
from .icons import icon
from .models import DistinctRole, PathRole, distinct_starts, human_bytes
from .widgets import LabelsWhenRoom
from .wording import plural
from .workers import ThumbnailLoader

KEEP_BG = QColor(46, 160, 90, 40)
KindRole = Qt.ItemDataRole.UserRole + 11  # on a group's header item: its kind
# The kind filter's entries: (label, kinds shown).
KIND_FILTERS = [
    ("All kinds", (KIND_EXACT, KIND_COPIES, KIND_SHOTS, KIND_RAW_JPEG)),
    (LABELS[KIND_EXACT], (KIND_EXACT,)),
    (LABELS[KIND_COPIES], (KIND_COPIES,)),
    (LABELS[KIND_SHOTS], (KIND_SHOTS,)),
    (LABELS[KIND_RAW_JPEG], (KIND_RAW_JPEG,)),
]
KIND_COLOURS = {KIND_EXACT: QColor(30, 130, 70), KIND_COPIES: QColor(40, 100, 170), KIND_SHOTS: QColor(170, 100, 20),
                KIND_RAW_JPEG: QColor(120, 60, 160)}
THUMB = 56


class _ThumbColumnDelegate(QStyledItemDelegate):
    """Shows the member's thumbnail as its icon, loaded lazily for visible rows only."""

    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.placeholder = icon("photo")

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        path = index.data(PathRole)
        if not path:
            return
        pm = self.loader.pixmap(path, 128)
        option.icon = QIcon(pm) if isinstance(pm, QPixmap) else self.placeholder
        option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration
        option.decorationSize = QSize(THUMB, THUMB)
        # A narrow column keeps the part of the name that tells the group's photos apart
        # ("…(cropped).jpg"), not Qt's middle cut ("mate….jpg").
        room = option.rect.width() - THUMB - NAME_INSET
        if room > 0:
            option.text = elide_name(option.fontMetrics, option.text, index.data(DistinctRole) or 0, room)


class DuplicatesView(DuplicateSelection, GroupNavigation, QWidget):
    threshold_changed = Signal(float)
    compare_requested = Signal(object, object)  # GroupMember, GroupMember
    not_duplicates_requested = Signal(object)  # [(GroupMember, GroupMember), ...]: the pairs to remember
    trash_requested = Signal()
    move_requested = Signal()
    link_requested = Signal()
    dates_wanted = Signal(list)  # paths of the group at a glance, whose dates to read off the GUI thread
    export_requested = Signal()
    undo_requested = Signal()
    find_requested = Signal()
    selection_changed = Signal()
    keep_changed = Signal(object)  # KeepPreference: which copy of a RAW + JPEG pair to keep

    def __init__(self, loader: ThumbnailLoader, threshold: float, parent=None) -> None:
        super().__init__(parent)
        self.groups: list[DuplicateGroup] = []
        self.reference_folders: list[str] = []
        self.user_keepers: set[str] = set()  # photos the user chose to keep ("Keep this one")
        self.model = QStandardItemModel(self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.model.itemChanged.connect(self._item_changed)
        self.tree = QTreeView(self)
        self.tree.setObjectName("duplicatesTree")
        self.tree.setModel(self.model)
        self.tree.setItemDelegateForColumn(0, _ThumbColumnDelegate(loader, self.tree))
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setUniformRowHeights(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setAlternatingRowColors(True)
        self.tree.doubleClicked.connect(lambda _: self._emit_compare())
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        fm = self.tree.fontMetrics()
        # The short columns as wide as what they hold; the photo column takes what the
        # window has left after them and a readable folder (``_fit_columns``).
        for col, sample in ((1, "100.0%"), (2, "★ edited copy"), (3, "8256×5504"), (4, "123.4 MB")):
            header.resizeSection(col, max(fm.horizontalAdvance(sample), fm.horizontalAdvance(COLUMNS[col])) + 18)
        header.resizeSection(0, PHOTO_COLUMN[1])
        self._fitting = False
        self._photo_sized_by_user = False
        header.sectionResized.connect(self._section_resized)
        self.tree.viewport().installEventFilter(self)  # its size is final when it hears of it
        loader.ready.connect(self.tree.viewport().update)

        floor = int(round(DEFAULT_FLOOR * 1000))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("thresholdSlider")
        self.slider.setRange(floor, 1000)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(20)
        self.slider.setValue(int(round(threshold * 1000)))
        self.slider.setMinimumWidth(90)
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider_label = QLabel()
        self.slider_label.setMinimumWidth(70)
        self._update_slider_label()
        self.summary = QLabel("Click “Find duplicates” (Ctrl+D) to look for duplicate photos in the library")
        self.summary.setObjectName("duplicatesSummary")
        # A line of its own that wraps: it never widens the window and is never cut off.
        self.summary.setWordWrap(True)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary.setContentsMargins(8, 2, 8, 4)
        # Shown when the library changed after the search: the groups may miss photos.
        self.stale_bar = QFrame()
        self.stale_bar.setObjectName("duplicatesStale")
        self.stale_bar.setStyleSheet("QFrame#duplicatesStale { background: #fff4ce; border-bottom: 1px solid #e0c060; }"
                                     " QFrame#duplicatesStale QLabel { color: #4a3b00; }")
        self.stale_label = QLabel()
        self.stale_label.setWordWrap(True)
        self.stale_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.stale_button = QPushButton(icon("duplicates"), "Find again")
        self.stale_button.setObjectName("findAgainButton")
        self.stale_button.clicked.connect(self.find_requested.emit)
        stale_row = QHBoxLayout(self.stale_bar)
        stale_row.setContentsMargins(8, 4, 8, 4)
        stale_row.addWidget(self.stale_label, 1)
        stale_row.addWidget(self.stale_button)
        self.stale_bar.setVisible(False)

        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.setIconSize(QSize(18, 18))
        self.act_find = self.toolbar.addAction(icon("duplicates"), "Find duplicates", self.find_requested.emit)
        self.toolbar.addSeparator()
        self.act_auto = self.toolbar.addAction(icon("select"), "Select all but best", self.select_all_but_best)
        self.act_auto.setToolTip("Select every copy except the one to keep of each group (the original, or what "
                                 "the Keep choice or \u201cKeep this one\u201d says); photos in reference folders "
                                 "are never selected")
        self.act_clear = self.toolbar.addAction("Clear", self.clear_selection)
        self.keep_choice = QComboBox()
        self.keep_choice.setObjectName("keepPreference")
        self.keep_choice.setToolTip("Which copy of each group to keep: the original (by the evidence: colour, the "
                                    "whole picture, no border, real resolution, quality, EXIF), the RAW or the JPEG "
                                    "of a camera's pair, the oldest, the largest, or one with EXIF. A reference "
                                    "folder's photo is always kept.")
        for pref, label in KEEP_LABELS.items():
            self.keep_choice.addItem(label, pref.value)
        self.keep_choice.currentIndexChanged.connect(
            lambda _: self.keep_changed.emit(self.keep_preference()))
        self.toolbar.addSeparator()
        self.act_compare = self.toolbar.addAction(icon("compare"), "Compare", self._emit_compare)
        self.act_not_dup = self.toolbar.addAction(icon("not-duplicate"), "Not duplicates", self._emit_not_duplicates)
        self.act_not_dup.setToolTip("Remember that these are not duplicates: two selected photos, a photo and the rest "
                                    "of its group, or a whole group (its title row selected)")
        self.act_keep_this = self.toolbar.addAction(icon("select"), "Keep this one", self.keep_this)
        self.act_keep_this.setToolTip("Keep the highlighted photo of its group instead of the suggested one")
        self.toolbar.addSeparator()
        self.act_trash = self.toolbar.addAction(icon("trash"), "Trash…", self.trash_requested.emit)
        self.act_trash.setToolTip("Move the selected copies to the trash (Delete)")
        self.act_move = self.toolbar.addAction(icon("move"), "Move…", self.move_requested.emit)
        self.act_move.setToolTip("Move the selected copies to a folder you choose")
        self.act_link = self.toolbar.addAction(icon("link"), "Link…", self.link_requested.emit)
        self.act_link.setToolTip("Replace the selected copies that are byte-identical to the one kept by hard links "
                                 "to it: each photo stays at its path and takes its space once; the copies go to "
                                 "the trash, and Undo brings them back")
        self.act_undo = self.toolbar.addAction(icon("undo"), "Undo", self.undo_requested.emit)
        self.act_export = self.toolbar.addAction(icon("export"), "Export…", self.export_requested.emit)
        self.toolbar.addSeparator()
        self.toolbar_fit = LabelsWhenRoom(self.toolbar, keep_longest=[self.act_trash, self.act_auto, self.act_find])
        self.kind_filter = QComboBox()
        self.kind_filter.setObjectName("kindFilter")
        self.kind_filter.setToolTip("Show one kind of group: exact copies (same bytes), edited copies of one "
                                    "photo, or burst shots (different exposures of one moment, not copies)")
        for label, kinds in KIND_FILTERS:
            self.kind_filter.addItem(label, kinds)
        self.kind_filter.currentIndexChanged.connect(self._apply_filter)

        slider_row = QHBoxLayout()
        slider_row.setContentsMargins(8, 2, 8, 2)
        slider_row.addWidget(QLabel("Similarity"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.slider_label)
        slider_row.addSpacing(12)
        # In this row, not the toolbar: a narrow window pushes the toolbar's last items
        # into its overflow menu, and the filter must stay in sight.
        slider_row.addWidget(self.kind_filter)
        # Here too rather than in the toolbar, which it pushed into its overflow menu at
        # 1280 px: the copy it keeps first is the one "Select all but best" spares.
        slider_row.addWidget(self.keep_choice)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.stale_bar)
        layout.addLayout(slider_row)
        layout.addWidget(self.summary)
        # The highlighted group at a glance under the table, its photos large, side by side.
        self.glance = GroupGlance(loader)
        self.glance.member_clicked.connect(self._glance_clicked)
        self.glance.compare_requested.connect(self._glance_compare)
        self.glance.previous_requested.connect(lambda: self.step_group(-1))
        self.glance.next_requested.connect(lambda: self.step_group(1))
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.setObjectName("duplicatesSplit")
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(self.tree)
        self.split.addWidget(self.glance)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        layout.addWidget(self.split, 1)
        self._split_placed = False  # the first showing gives the glance GLANCE_SHARE of the height
        self.tree.selectionModel().currentChanged.connect(self._current_moved)
        # Keys for deciding group by group, where the focus is in this tab.
        self.act_next_group = self._key_action("Next group", "N", lambda: self.step_group(1))
        self.act_previous_group = self._key_action("Previous group", "P", lambda: self.step_group(-1))
        self.act_tick = self._key_action("Tick or untick for removal", "X", self.toggle_current)
        for act, key in ((self.act_keep_this, "K"), (self.act_not_dup, "D")):
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(act)
        self._updating = False
        self._update_actions()

    # -- which copy to keep --------------------------------------------------------------
    def keep_preference(self) -> KeepPreference:
        return KeepPreference(self.keep_choice.currentData() or KeepPreference.BEST_PIXELS.value)

    def set_keep_preference(self, prefer: KeepPreference) -> None:
        """Show ``prefer`` as chosen (without telling ``keep_changed``: nothing changed)."""
        i = self.keep_choice.findData(KeepPreference(prefer).value)
        self.keep_choice.blockSignals(True)
        self.keep_choice.setCurrentIndex(max(0, i))
        self.keep_choice.blockSignals(False)

    # -- threshold -----------------------------------------------------------------------
    def threshold(self) -> float:
        return self.slider.value() / 1000

    def _slider_moved(self, _: int) -> None:
        self._update_slider_label()
        self.threshold_changed.emit(self.threshold())

    def _update_slider_label(self) -> None:
        value = self.threshold()
        self.slider_label.setText("exact copies only" if value >= 1.0 else f"≥ {value * 100:.1f}%")

    # -- content ---------------------------------------------------------------------------
    def is_reference(self, path: str) -> bool:
        return is_under(path, self.reference_folders)

    def set_groups(self, groups: list[DuplicateGroup], reference_folders: list[str]) -> None:
        keep_checked = {self.member_of(it).row.path for it in self._member_item_rows(visible_only=False)
                        if it.isCheckable() and it.checkState() == Qt.CheckState.Checked}
        keep_checked -= self.user_keepers
        self.groups = [self._with_user_keeper(g) for g in groups]
        groups = self.groups
        self.reference_folders = list(reference_folders)
        self._updating = True
        self.model.removeRows(0, self.model.rowCount())
        bold = QFont(self.font())
        bold.setBold(True)
        root = self.model.invisibleRootItem()
        for n, g in enumerate(groups):
            removable = sum(m.row.size for m in g.members[1:])
            if g.kind == KIND_SHOTS:
                text = f"Group {n + 1} · {LABELS[g.kind]} · {plural(len(g.members), 'shot')} of one moment, not copies"
            else:
                text = f"Group {n + 1} · {LABELS[g.kind]} · {plural(len(g.members), 'photo')} · {human_bytes(removable)} removable"
            head = QStandardItem(text)
            head.setData(g.kind, KindRole)
            head.setForeground(QBrush(KIND_COLOURS.get(g.kind, QColor(0, 0, 0))))
            head.setFont(bold)
            head.setEditable(False)
            head.setSelectable(False)
            children = []
            distinct = distinct_starts(os.path.basename(m.row.path) for m in g.members)
            for i, m in enumerate(g.members):
                children.append(self._member_items(n, i, m, keep_checked, bold))
                children[-1][0].setData(distinct.get(os.path.basename(m.row.path), 0), DistinctRole)
            for row in children:
                head.appendRow(row)
            root.appendRow([head] + [QStandardItem() for _ in COLUMNS[1:]])
        for r in range(self.model.rowCount()):
            self.tree.setFirstColumnSpanned(r, QModelIndex(), True)
        self.tree.expandAll()
        self._updating = False
        self._update_filter_counts()
        self._apply_filter()
        shown = self.visible_groups()
        self._show_glance(self.groups.index(shown[0]) if shown else None)

    def _member_items(self, n: int, i: int, m: GroupMember, keep_checked: set[str], bold: QFont) -> list[QStandardItem]:
        path = m.row.path
        keeper = i == 0
        reference = self.is_reference(path)
        name = QStandardItem(os.path.basename(path))
        name.setData(path, PathRole)
        name.setData((n, i), MemberRole)
        name.setToolTip(path)
        name.setEditable(False)
        if not reference:
            name.setCheckable(True)
            name.setCheckState(Qt.CheckState.Checked if path in keep_checked and not keeper else Qt.CheckState.Unchecked)
        score = QStandardItem("—" if keeper and not m.exact else ("identical" if m.exact else f"{m.score * 100:.1f}%"))
        if m.link and not (keeper and not m.exact):
            # The pair that admitted it into the group (its strongest), and how it was proven.
            how = "same bytes as" if m.exact else f"{m.score * 100:.1f}% similar to"
            proof = "" if m.exact else ", one picture by matching detail"
            score.setToolTip(f"{how} {os.path.basename(m.link)}{proof}\n{m.link}")
        if keeper:
            kind_text = "★ Keep"
        else:
            kind_text = member_label(self.groups[n].kind, path, m.exact)
        if reference:
            kind_text += " · reference"
        kind = QStandardItem(kind_text)
        res = QStandardItem(f"{m.row.width}×{m.row.height}" if m.row.width else "?")
        size = QStandardItem(human_bytes(m.row.size))
        size.setData(m.row.size, Qt.ItemDataRole.UserRole)
        folder = QStandardItem(os.path.dirname(path))
        folder.setToolTip(os.path.dirname(path))
        items = [name, score, kind, res, size, folder]
        for it in items:
            it.setEditable(False)
            if keeper:
                it.setBackground(QBrush(KEEP_BG))
        if keeper:
            name.setFont(bold)
            kind.setFont(bold)
            kind.setForeground(QBrush(QColor(30, 130, 70)))
        for it in items[1:]:
            it.setData(path, PathRole + 100)  # not a thumbnail cell
        return items

    def _update_summary(self) -> None:
        if not self.groups:
            self.summary.setText("No duplicates at this similarity")
            return
        copies, size = removable_copies(self.groups)
        counts = {k: sum(1 for g in self.groups if g.kind == k)
                  for k in (KIND_EXACT, KIND_COPIES, KIND_SHOTS, KIND_RAW_JPEG)}
        sel = self.checked_members()
        kinds = ", ".join(f"{counts[k]} {word}" for k, word in
                          ((KIND_EXACT, "exact"), (KIND_COPIES, "edited"), (KIND_RAW_JPEG, "RAW + JPEG"))
                          if counts[k])
        if counts[KIND_SHOTS]:
            kinds += (", " if kinds else "") + plural(counts[KIND_SHOTS], "burst")
        text = (f"{plural(len(self.groups), 'group')} ({kinds}) · {plural(copies, 'removable copy', 'removable copies')}"
                f" · {human_bytes(size)} to reclaim")
        if sel:
            text += f" · <b>{plural(len(sel), 'photo')} selected ({human_bytes(sum(m.row.size for m in sel))})</b>"
        self.summary.setText(text)

    def set_searching(self) -> None:
        self.summary.setText("Looking for duplicates…")
        self.set_stale(None)

    def search_stopped(self, why: str) -> None:
        """A search ended without results (cancelled, failed): the groups shown before stay."""
        if self.groups:
            self._update_summary()
        else:
            self.summary.setText(f"{why}. Click “Find duplicates” (Ctrl+D) to look again.")

    def set_stale(self, reason: str | None) -> None:
        """Say that the shown groups predate a change of the library (None: they are current)."""
        self.stale_bar.setVisible(reason is not None)
        if reason is not None:
            self.stale_label.setText(f"<b>These results are out of date:</b> {reason}. "
                                     "Find duplicates again to include every photo.")

    def is_stale(self) -> bool:
        return not self.stale_bar.isHidden()

    # -- kind filter --------------------------------------------------------------------------
    def shown_kinds(self) -> tuple[str, ...]:
        return tuple(self.kind_filter.currentData() or KIND_FILTERS[0][1])

    def set_kind_filter(self, kind: str | None) -> None:
        """Show only groups of ``kind`` ("exact", "copies", "shots"), or all (None)."""
        for i, (_, kinds) in enumerate(KIND_FILTERS):
            if (kind is None and len(kinds) > 1) or kinds == (kind,):
                self.kind_filter.setCurrentIndex(i)
                return
        raise ValueError(f"no such kind: {kind}")

    def _update_filter_counts(self) -> None:
        for i, (label, kinds) in enumerate(KIND_FILTERS):
            count = sum(1 for g in self.groups if g.kind in kinds)
            self.kind_filter.setItemText(i, f"{label} ({count})" if self.groups else label)

    def _apply_filter(self, *_: object) -> None:
        kinds = self.shown_kinds()
        for r in range(self.model.rowCount()):
            self.tree.setRowHidden(r, QModelIndex(), self.model.item(r, 0).data(KindRole) not in kinds)
        self._update_summary()
        self._update_actions()
        self.selection_changed.emit()

    def visible_groups(self) -> list[DuplicateGroup]:
        """The groups the kind filter shows, in order."""
        return [g for r, g in enumerate(self.groups) if not self.tree.isRowHidden(r, QModelIndex())]
