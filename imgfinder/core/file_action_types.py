"""What every file action shares: its kinds (trash, move, link), the two ways a file is
left alone (refused up front, or not done with a reason) and what a batch reports."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

TRASH = "trash"


MOVE = "move"


# A byte-identical copy replaced by a hard link to the copy kept: the copy goes to the trash
# (so undo can put it back) and the link takes its path (``FileMover.replace_with_links``).
LINK = "link"


_TO_TRASH = (TRASH, LINK)  # actions whose destination is a freedesktop trash entry


MAX_NAME_TRIES = 1000


class RefusedError(Exception):
    """A file the user asked to move must not be moved (e.g. under a reference folder)."""


class NotDone(Exception):
    """One file was not moved (or not put back); ``reason`` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ActionResult:
    """What a trash/move/undo did: (source, destination) pairs and per-file failures."""

    done: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why it was left alone)
    batch: int | None = None
    bytes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, destination) set aside by undo --skip
    # Photos an undo found in the system's trash (Windows, macOS): it cannot take them out,
    # says how to (``system_trash.restore_hint``) and sets their entries aside.
    in_system_trash: list[str] = field(default_factory=list)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def is_under(path: str, folders: Iterable[str]) -> bool:
    """True if ``path`` is one of ``folders`` or inside one of them, as written or by real
    path: a folder reached through a symlink (``~/Pictures -> /data/photos``) protects
    the same files as its target, and a file reached through a link is where it really is."""
    plain, real = os.path.abspath(path), os.path.realpath(path)
    for folder in folders:
        if _inside(plain, os.path.abspath(folder)) or _inside(real, os.path.realpath(folder)):
            return True
    return False
