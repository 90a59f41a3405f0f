"""What the user has ticked and highlighted in the Duplicates table, and what it means:
the copies to move, the pairs to compare or remember as not duplicates, the photo to keep
instead. A part of ``DuplicatesView`` (one of its bases)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QStandardItem

from ..core.cleanup import byte_identical
from ..core.duplicates import DuplicateGroup, GroupMember
from ..core.group_kind import KIND_SHOTS
from .duplicates_table import MemberRole
from .models import PathRole


class DuplicateSelection:
    """Methods of ``DuplicatesView``: they use its tree, model, groups and actions."""

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
                if kept is not None and byte_identical(m, kept):
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

    # -- pairs for compare / not duplicates ------------------------------------------------------
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
