"""Which files of duplicate groups a clean-up moves away: the app's rules, for the CLI's
``duplicates --trash / --move-to`` (the desktop app's *Select all but best*).

* The copy to keep (``group.members[0]``, ``duplicates.keep_rank``) is never moved.
* Files in reference folders are never moved.
* Burst shots (kind "shots") are different photos, not copies: their groups are left alone
  unless they are all that was asked for (the app ticks them only when its filter shows
  them alone).
* A group whose copy to keep is gone or changed since it was indexed is left alone whole:
  moving its other copies could leave no copy of the photo.

The moving itself (checks of size, time and content, all or nothing, the undo log) is
``file_actions.FileMover``'s.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from .duplicates import DuplicateGroup, GroupMember
from .file_actions import is_under
from .group_kind import KIND_SHOTS

# Why a file is left alone (``CleanupPlan.left_alone``), by code.
REFERENCE = "reference"
SHOTS = "shots"
THERE = "there"
KEEPER = "keeper"
DIFFERENT = "different"  # not byte-identical to the copy kept: never replaced by a link


@dataclass
class CleanupPlan:
    moves: list[tuple[int, GroupMember]] = field(default_factory=list)  # (group number from 1, file)
    left_alone: list[tuple[str, str, str]] = field(default_factory=list)  # (path, code, why)
    keepers: dict[int, GroupMember] = field(default_factory=dict)  # the copy to keep of each group moved from

    @property
    def paths(self) -> list[str]:
        return [m.row.path for _, m in self.moves]

    @property
    def bytes(self) -> int:
        return sum(m.row.size or 0 for _, m in self.moves)

    def count(self, code: str) -> int:
        return sum(1 for _, c, _ in self.left_alone if c == code)

    def recheck(self) -> list[tuple[str, str]]:
        """Check the copies to keep again, just before moving (the user may have taken a
        while to answer), by content this time: the moves of a group whose copy to keep
        changed (even with its size and time put back), went, or was replaced by a link
        meanwhile are dropped. Returns (path, why) for each file dropped."""
        bad = {}
        for n, keeper in self.keepers.items():
            problem = keeper_problem(keeper, content=True)
            if problem is not None:
                bad[n] = f"the copy to keep, {keeper.row.path}, {problem}"
        kept = {same_file_key(k.row.path) for n, k in self.keepers.items() if n not in bad}
        dropped = [(m.row.path, bad[n]) for n, m in self.moves if n in bad]
        for n, m in self.moves:  # a file that is a copy to keep under another name
            if n not in bad and same_file_key(m.row.path) in kept - {None}:
                dropped.append((m.row.path, "is the same file as a copy to keep (a link to it)"))
        gone = {p for p, _ in dropped}
        self.moves = [(n, m) for n, m in self.moves if n not in bad and m.row.path not in gone]
        for n in bad:
            del self.keepers[n]
        return dropped


def same_file_key(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` leads to (links followed), or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def keeper_problem(member: GroupMember, content: bool = False) -> str | None:
    """Why the copy to keep cannot be relied on now, or None: gone, a symbolic link (or
    reached through one: its real file is elsewhere), changed since it was indexed (size or
    modification time; with ``content``, its bytes too, read and hashed: a file rewritten
    with its size and time put back is not the photo that was compared)."""
    from .safe_move import file_hash

    path = member.row.path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "is no longer there"
    except OSError as exc:
        return f"cannot be checked: {exc.strerror or exc}"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link now, not the file that was indexed"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    real = os.path.realpath(path)
    if real != os.path.abspath(path):
        return f"is reached through a symbolic link (it is really {real})"
    if st.st_size != member.row.size or st.st_mtime_ns != member.row.mtime_ns:
        return "changed since it was indexed"
    if content and member.row.hash:
        try:
            digest, n = file_hash(path)
        except OSError as exc:
            return f"cannot be read: {exc.strerror or exc}"
        if digest != member.row.hash or n != member.row.size:
            return "changed since it was indexed (its content, though its size and time are the same)"
    return None


def reference_first(group: DuplicateGroup, reference: Sequence[str]) -> DuplicateGroup:
    """The group with its first file in a reference folder as the copy to keep: a file in
    a reference folder is always the one kept (the finder already ranks them first when
    it is told the folders; this holds for any caller)."""
    if not reference or is_under(group.keeper.row.path, reference):
        return group
    inside = [m for m in group.members if is_under(m.row.path, reference)]
    if not inside:
        return group
    return DuplicateGroup([inside[0]] + [m for m in group.members if m is not inside[0]], group.kind)


def plan_cleanup(
    groups: Sequence[DuplicateGroup], reference_folders: Sequence[str] = (), shots: bool = False,
    destination: str | None = None,
) -> CleanupPlan:
    """The files of ``groups`` to move: every one but the copy to keep, except those in
    ``reference_folders``, those already in ``destination`` (a move's folder) and, unless
    ``shots``, those of burst-shot groups; groups whose copy to keep is gone or changed are
    left alone whole."""
    plan = CleanupPlan()
    reference = [os.path.abspath(f) for f in reference_folders]
    there = os.path.abspath(destination) if destination is not None else None
    for n, group in enumerate(groups, 1):
        group = reference_first(group, reference)
        others = group.members[1:]
        if group.kind == KIND_SHOTS and not shots:
            plan.left_alone += [(m.row.path, SHOTS, "a burst shot: a different photo, not a copy") for m in others]
            continue
        problem = keeper_problem(group.keeper)
        if problem is not None:
            why = f"the copy to keep, {group.keeper.row.path}, {problem}"
            plan.left_alone += [(m.row.path, KEEPER, why) for m in others]
            continue
        keeper_file = same_file_key(group.keeper.row.path)
        for m in others:
            if keeper_file is not None and same_file_key(m.row.path) == keeper_file:
                plan.left_alone.append((m.row.path, KEEPER, "is the copy to keep itself, by another path"))
            elif is_under(m.row.path, reference):
                plan.left_alone.append((m.row.path, REFERENCE, "in a reference folder"))
            elif there is not None and os.path.dirname(os.path.abspath(m.row.path)) == there:
                plan.left_alone.append((m.row.path, THERE, f"already in {there}"))
            else:
                plan.moves.append((n, m))
                plan.keepers[n] = group.keeper
    return plan


def byte_identical(a: GroupMember, b: GroupMember) -> bool:
    """Did the scan find the same bytes in both files (content hash and size)? What a hard
    link may replace a copy by: nothing at its path changes."""
    return bool(a.row.hash) and a.row.hash == b.row.hash and a.row.size == b.row.size


def only_identical(plan: CleanupPlan) -> list[tuple[str, str]]:
    """For replacing copies by hard links: the (copy, copy kept) pairs whose bytes are the
    same (by the catalog's content hash; ``FileMover`` reads both again before it links).
    The other copies join ``left_alone``: a link would change the picture at their path."""
    pairs = []
    moves = []
    for n, m in plan.moves:
        keeper = plan.keepers[n]
        if byte_identical(m, keeper):
            pairs.append((m.row.path, keeper.row.path))
            moves.append((n, m))
        else:
            plan.left_alone.append((m.row.path, DIFFERENT, "not byte-identical to the copy kept: a link would "
                                                           "change the picture at its path"))
    plan.moves = moves
    return pairs


def check_kept(groups: Sequence[tuple[Sequence[GroupMember], Sequence[str]]]) -> tuple[list[str], list[tuple[str, str]]]:
    """The desktop app's guard, just before it moves ticked copies: for each group, (the
    members left unticked, the paths ticked to move). A group keeps its moves only if one
    member left is still the photo that was compared (``keeper_problem`` by content); else
    its ticked files stay. Returns (paths that may move, [(path, why it stays)])."""
    movable: list[str] = []
    dropped: list[tuple[str, str]] = []
    for kept, moving in groups:
        kept_files = {same_file_key(k.row.path) for k in kept} - {None}
        problems = [keeper_problem(k, content=True) for k in kept]
        if not any(p is None for p in problems):
            why = (f"the copy to keep, {kept[0].row.path}, {problems[0]}" if kept
                   else "no copy of this photo would be left")
            dropped += [(p, why) for p in moving]
            continue
        for p in moving:
            if same_file_key(p) in kept_files:
                dropped.append((p, "is the same file as a copy that stays (a link to it)"))
            else:
                movable.append(p)
    return movable, dropped
