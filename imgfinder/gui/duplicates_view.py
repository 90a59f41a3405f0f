"""The duplicates tab: groups with the suggested keeper marked, a similarity slider that
regroups instantly, selection by hand or by rules, and the actions on the selection."""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QIcon, QKeySequence, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QFrame, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSizePolicy, QSlider,
    QSplitter, QStyledItemDelegate, QStyleOptionViewItem, QToolBar, QTreeView, QVBoxLayout, QWidget,
)

from ..core.duplicates import DEFAULT_FLOOR, KEEP_LABELS, DuplicateGroup, GroupMember, KeepPreference, removable_copies
from ..core.group_kind import KIND_COPIES, KIND_EXACT, KIND_RAW_JPEG, KIND_SHOTS, LABELS, member_label
from ..core.file_actions import is_under
from .group_glance import GroupGlance
from .icons import icon
from .delegates import elide_name
from .models import DistinctRole, PathRole, distinct_starts, human_bytes
from .wording import plural
from .widgets import LabelsWhenRoom
from .workers import ThumbnailLoader

MemberRole = Qt.ItemDataRole.UserRole + 10
COLUMNS = ["Photo", "Similarity", "Kind", "Resolution", "Size", "Folder"]
KEEP_BG = QColor(46, 160, 90, 40)
PHOTO_COLUMN = (180, 330)  # the photo column's width: at least, at most (px)
NAME_INSET = 44  # px of the photo column that are neither thumbnail nor name (check box, margins)
GLANCE_SHARE = 0.45  # of the table and glance's height the glance first gets (a user may drag it)
FOLDER_MIN = 110  # px of the Folder column kept in view before the photo column grows
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


class DuplicatesView(QWidget):
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

    # -- selection ------------------------------------------------------------------------------
    def _member_item_rows(self, visible_only: bool = True):
        """Member items; by default only those of groups the filter shows: what is not
        shown is never trashed or moved."""
        for r in range(self.model.rowCount()):
            if visible_only and self.tree.isRowHidden(r, QModelIndex()):
                continue
            head = self.model.item(r, 0)
            for c in range(head.rowCount()):
                yield head.child(c, 0)

    def member_of(self, item: QStandardItem) -> GroupMember | None:
        pos = item.data(MemberRole)
        if pos is None:
            return None
        n, i = pos
        return self.groups[n].members[i]

    def checked_members(self) -> list[GroupMember]:
        return [self.member_of(it) for it in self._member_item_rows()
                if it.isCheckable() and it.checkState() == Qt.CheckState.Checked]

    def checked_by_group(self) -> list[tuple[list[GroupMember], list[str]]]:
        """For each group with a ticked copy: (the members left unticked, the ticked paths),
        for the check made just before moving (``core.cleanup.check_kept``)."""
        ticked = {id(m) for m in self.checked_members()}
        out = []
        for g in self.groups:
            moving = [m.row.path for m in g.members if id(m) in ticked]
            if moving:
                out.append(([m for m in g.members if id(m) not in ticked], moving))
        return out

    def link_pairs(self) -> tuple[list[tuple[str, str]], list[str]]:
        """The ticked copies as (copy, the copy kept it would be a link to), for "Link…":
        those with the same content as their group's first unticked photo; and the ticked
        ones without (a link would change their picture: they stay)."""
        pairs: list[tuple[str, str]] = []
        different: list[str] = []
        ticked = {id(m) for m in self.checked_members()}
        for g in self.groups:
            kept = next((m for m in g.members if id(m) not in ticked), None)
            for m in g.members:
                if id(m) not in ticked:
                    continue
                if kept is not None and m.row.hash and m.row.hash == kept.row.hash and m.row.size == kept.row.size:
                    pairs.append((m.row.path, kept.row.path))
                else:
                    different.append(m.row.path)
        return pairs, different

    def checked_paths(self) -> list[str]:
        return [m.row.path for m in self.checked_members()]

    def select_all_but_best(self) -> None:
        """Tick every member but the keeper of each shown group. Burst shots are different
        photos, not copies: their groups are ticked only when the filter shows them alone."""
        only_shots = self.shown_kinds() == (KIND_SHOTS,)

        def rule(it: QStandardItem) -> bool:
            n, i = it.data(MemberRole) or (0, 0)
            return i != 0 and (only_shots or self.groups[n].kind != KIND_SHOTS)

        self._set_checks(rule)

    def clear_selection(self) -> None:
        self._set_checks(lambda it: False)

    def _set_checks(self, rule) -> None:
        """Tick the shown members ``rule`` accepts; untick every other (hidden ones too)."""
        shown = {tuple(it.data(MemberRole)) for it in self._member_item_rows()}
        self._updating = True
        for it in self._member_item_rows(visible_only=False):
            if it.isCheckable():
                on = tuple(it.data(MemberRole)) in shown and rule(it)
                it.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self._updating = False
        self._after_check()

    def _item_changed(self, item: QStandardItem) -> None:
        if not self._updating and item.isCheckable():
            self._after_check()

    def _after_check(self) -> None:
        self._update_summary()
        self._update_actions()
        self.glance.set_ticked(set(self.checked_paths()))
        self.selection_changed.emit()

    def _with_user_keeper(self, group: DuplicateGroup) -> DuplicateGroup:
        """The group with the photo the user chose to keep ("Keep this one") first."""
        chosen = next((m for m in group.members if m.row.path in self.user_keepers), None)
        if chosen is None or chosen is group.members[0]:
            return group
        return DuplicateGroup([chosen] + [m for m in group.members if m is not chosen], group.kind)

    def _update_actions(self) -> None:
        has = bool(self.groups) and bool(self.visible_groups())
        checked = bool(has and self.checked_members())
        for act in (self.act_auto, self.act_clear, self.act_compare, self.act_not_dup, self.act_export,
                    self.act_keep_this):
            act.setEnabled(has)
        self.act_trash.setEnabled(checked)
        self.act_move.setEnabled(checked)
        self.act_link.setEnabled(checked)

    # -- the group at a glance and its keys ---------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._split_placed and self.split.height() > 0:
            self._split_placed = True
            h = sum(self.split.sizes()) or self.split.height()
            self.split.setSizes([round(h * (1 - GLANCE_SHARE)), round(h * GLANCE_SHARE)])

    def _key_action(self, text: str, key: str, slot) -> QAction:
        act = QAction(text, self)
        act.setShortcut(QKeySequence(key))
        act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        act.triggered.connect(lambda checked=False: slot())
        self.addAction(act)
        return act

    def _position(self) -> tuple[int | None, int | None]:
        """(group, member) of the tree's current row; member None on a group's title row."""
        current = self.tree.currentIndex()
        if not current.isValid():
            return None, None
        item = self.model.itemFromIndex(current.siblingAtColumn(0))
        if item is not None and item.data(MemberRole) is not None:
            n, i = item.data(MemberRole)
            return n, i
        return (current.row(), None) if not current.parent().isValid() else (None, None)

    def _current_moved(self, *_: object) -> None:
        n, i = self._position()
        if n is None or not 0 <= n < len(self.groups):
            return
        self._show_glance(n, i)

    def _show_glance(self, n: int | None, i: int | None = None) -> None:
        if n is None:
            self.glance.show_group(None, None, len(self.groups), set(), self.is_reference)
            return
        fresh = n != self.glance.group_number or self.glance.group is not self.groups[n]
        self.glance.show_group(n, self.groups[n], len(self.groups), set(self.checked_paths()), self.is_reference, i)
        if fresh:
            self.dates_wanted.emit([m.row.path for m in self.groups[n].members])

    def _glance_clicked(self, n: int, i: int) -> None:
        self.select_member(n, i)
        self.tree.setFocus()

    def _glance_compare(self, n: int, i: int) -> None:
        self.select_member(n, i)
        self._emit_compare()

    def step_group(self, delta: int) -> None:
        """Highlight the first copy of the next (``delta`` 1) or previous shown group."""
        shown = [r for r in range(len(self.groups)) if not self.tree.isRowHidden(r, QModelIndex())]
        if not shown:
            return
        n, _ = self._position()
        if n is None or n not in shown:
            target = shown[0] if delta > 0 else shown[-1]
        else:
            at = shown.index(n) + delta
            target = shown[max(0, min(len(shown) - 1, at))]
        self.select_member(target, 1 if len(self.groups[target].members) > 1 else 0)
        self.tree.setFocus()

    def toggle_current(self) -> None:
        """Tick or untick the highlighted photo (the copy kept and reference files cannot be)."""
        current = self.tree.currentIndex()
        item = self.model.itemFromIndex(current.siblingAtColumn(0)) if current.isValid() else None
        if item is None or not item.isCheckable() or item.data(MemberRole) is None:
            return
        n, i = item.data(MemberRole)
        if i == 0:
            return
        on = item.checkState() != Qt.CheckState.Checked
        item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    # -- column widths --------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:
        if watched is self.tree.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        return super().eventFilter(watched, event)

    def _fit_columns(self) -> None:
        """The photo column gives up width in a narrow window so Size and Folder stay in view
        (at 900 x 650 they were behind a scroll bar), up to ``PHOTO_COLUMN``; a width the
        user dragged it to is kept."""
        if self._photo_sized_by_user:
            return
        header = self.tree.header()
        others = sum(header.sectionSize(c) for c in range(1, len(COLUMNS) - 1))
        room = self.tree.viewport().width() - others - FOLDER_MIN
        width = max(PHOTO_COLUMN[0], min(PHOTO_COLUMN[1], room))
        if width != header.sectionSize(0):
            self._fitting = True
            header.resizeSection(0, width)
            self._fitting = False

    def _section_resized(self, index: int, old: int, new: int) -> None:
        if index == 0 and not self._fitting and self.tree.isVisible():
            self._photo_sized_by_user = True

    def current_pair(self) -> tuple[GroupMember, GroupMember] | None:
        """Two selected members of one group, or the current member and its keeper."""
        rows = [self.model.itemFromIndex(ix.siblingAtColumn(0)) for ix in self.tree.selectionModel().selectedRows()]
        rows = [r for r in rows if r is not None and r.data(MemberRole) is not None]
        if len(rows) >= 2 and rows[0].data(MemberRole)[0] == rows[1].data(MemberRole)[0]:
            return self.member_of(rows[0]), self.member_of(rows[1])
        current = self.tree.currentIndex()
        item = self.model.itemFromIndex(current.siblingAtColumn(0)) if current.isValid() else None
        if item is None or item.data(MemberRole) is None:
            if not self.groups:
                return None
            group_row = current.row() if current.isValid() and not current.parent().isValid() else 0
            g = self.groups[min(group_row, len(self.groups) - 1)]
            return g.members[0], g.members[1]
        n, i = item.data(MemberRole)
        g = self.groups[n]
        return (g.members[0], g.members[i]) if i != 0 else (g.members[0], g.members[1])

    def select_member(self, group: int, member: int) -> None:
        head = self.model.item(group, 0)
        if head is not None and head.child(member, 0) is not None:
            self.tree.setCurrentIndex(head.child(member, 0).index())

    def _emit_compare(self) -> None:
        pair = self.current_pair()
        if pair:
            self.compare_requested.emit(*pair)

    def not_duplicate_pairs(self) -> list[tuple[GroupMember, GroupMember]]:
        """What "Not duplicates" means for the selection: two selected photos of one group:
        that pair; one photo: it and every other photo of its group (it is a copy of none);
        a group's title row: every pair of the group (so it cannot re-form in parts)."""
        rows = [self.model.itemFromIndex(ix.siblingAtColumn(0)) for ix in self.tree.selectionModel().selectedRows()]
        rows = [r for r in rows if r is not None and r.data(MemberRole) is not None]
        if len(rows) >= 2 and rows[0].data(MemberRole)[0] == rows[1].data(MemberRole)[0]:
            return [(self.member_of(rows[0]), self.member_of(rows[1]))]
        current = self.tree.currentIndex()
        item = self.model.itemFromIndex(current.siblingAtColumn(0)) if current.isValid() else None
        if item is not None and item.data(MemberRole) is not None:
            n, i = item.data(MemberRole)
            members = self.groups[n].members
            return [(members[i], m) for k, m in enumerate(members) if k != i]
        if not self.groups:
            return []
        group_row = current.row() if current.isValid() and not current.parent().isValid() else 0
        members = self.groups[min(group_row, len(self.groups) - 1)].members
        return [(a, b) for k, a in enumerate(members) for b in members[k + 1:]]

    def _emit_not_duplicates(self) -> None:
        pairs = self.not_duplicate_pairs()
        if pairs:
            self.not_duplicates_requested.emit(pairs)

    def keep_this(self) -> None:
        """Make the highlighted photo its group's copy to keep (remembered while the app
        runs: a regrouping keeps the choice)."""
        current = self.tree.currentIndex()
        item = self.model.itemFromIndex(current.siblingAtColumn(0)) if current.isValid() else None
        if item is None or item.data(MemberRole) is None:
            return
        n, i = item.data(MemberRole)
        if i == 0:
            return
        chosen = self.groups[n].members[i].row.path
        self.user_keepers -= {m.row.path for m in self.groups[n].members}
        self.user_keepers.add(chosen)
        self.set_groups(self.groups, self.reference_folders)
        self.select_member(n, 0)

    def current_path(self) -> str | None:
        """The photo the user has highlighted: the current row if selected, else the first
        selected row (None when nothing is selected)."""
        selection = self.tree.selectionModel()
        current = self.tree.currentIndex()
        if not current.isValid() or not selection.isSelected(current):
            rows = selection.selectedRows()
            if not rows:
                return None
            current = rows[0]
        item = self.model.itemFromIndex(current.siblingAtColumn(0))
        return item.data(PathRole) if item is not None else None
