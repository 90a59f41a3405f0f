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
        while to answer): the moves of a group whose copy to keep changed or went meanwhile
        are dropped. Returns (path, why) for each file dropped."""
        bad = {}
        for n, keeper in self.keepers.items():
            problem = keeper_problem(keeper)
            if problem is not None:
                bad[n] = f"the copy to keep, {keeper.row.path}, {problem}"
        dropped = [(m.row.path, bad[n]) for n, m in self.moves if n in bad]
        self.moves = [(n, m) for n, m in self.moves if n not in bad]
        for n in bad:
            del self.keepers[n]
        return dropped


def keeper_problem(member: GroupMember) -> str | None:
    """Why the copy to keep cannot be relied on now (gone, or changed since it was
    indexed: size or modification time), or None."""
    try:
        st = os.stat(member.row.path)
    except FileNotFoundError:
        return "is no longer there"
    except OSError as exc:
        return f"cannot be checked: {exc.strerror or exc}"
    if st.st_size != member.row.size or st.st_mtime_ns != member.row.mtime_ns:
        return "changed since it was indexed"
    return None


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
        others = group.members[1:]
        if group.kind == KIND_SHOTS and not shots:
            plan.left_alone += [(m.row.path, SHOTS, "a burst shot: a different photo, not a copy") for m in others]
            continue
        problem = keeper_problem(group.keeper)
        if problem is not None:
            why = f"the copy to keep, {group.keeper.row.path}, {problem}"
            plan.left_alone += [(m.row.path, KEEPER, why) for m in others]
            continue
        for m in others:
            if is_under(m.row.path, reference):
                plan.left_alone.append((m.row.path, REFERENCE, "in a reference folder"))
            elif there is not None and os.path.dirname(os.path.abspath(m.row.path)) == there:
                plan.left_alone.append((m.row.path, THERE, f"already in {there}"))
            else:
                plan.moves.append((n, m))
                plan.keepers[n] = group.keeper
    return plan
