"""The trash on Windows and macOS: the system's own, through send2trash (what dupeGuru uses).

On Linux and the other freedesktop systems ``file_actions`` moves a photo into the
freedesktop trash itself, so it knows where the photo went and ``undo`` puts it back. The
Recycle Bin (Windows) and the Trash (macOS) are the system's: a file goes in through its
API, which chooses the name and the place and tells neither. So there:

- the move is journaled before it is made, as every move is, and ``recover`` settles a
  clean-up killed midway (a photo is either still in its place or in the system's trash);
- ``undo`` cannot put these photos back: it says where they are and how to restore them
  ("Restore" in the Recycle Bin, "Put Back" in the Finder), and sets the entries aside so
  an earlier batch can still be undone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

SYSTEM_TRASH = "system-trash"  # the journal's action for a photo handed to the system's trash
Sender = Callable[[str], None]

# Where the photos went and how a user brings them back, per platform.
_PLACES = {
    "win32": ("the Recycle Bin", "open the Recycle Bin, select the photos and choose “Restore the selected items”"),
    "darwin": ("the Trash", "open the Trash in the Finder, select the photos and choose File ▸ Put Back"),
}


def current() -> str:
    """The platform the trash is chosen for (``sys.platform``; tests fake it here)."""
    return sys.platform


def uses_system_trash(platform: str | None = None) -> bool:
    """True where the trash is the system's (Windows, macOS), not a freedesktop one."""
    return (platform or current()) in _PLACES


def trash_name(platform: str | None = None) -> str:
    """"the Recycle Bin", "the Trash", or "the trash" (freedesktop)."""
    return _PLACES.get(platform or current(), ("the trash", ""))[0]


def restore_hint(platform: str | None = None) -> str:
    """What to tell a user who wants photos back from the system's trash ("" elsewhere)."""
    return _PLACES.get(platform or current(), ("", ""))[1]


def undo_note(platform: str | None = None) -> str:
    """One sentence for confirmations and summaries: what undo can do with trashed photos."""
    if not uses_system_trash(platform):
        return "You can undo this with Edit ▸ Undo (Ctrl+Z)."
    return (f"They go to {trash_name(platform)}; imgfinder's undo cannot put them back from there: "
            f"to restore them, {restore_hint(platform)}.")


def cannot_undo(count: int, platform: str | None = None) -> str:
    """What undo says about ``count`` photos it found handed to the system's trash."""
    what = "1 photo of this clean-up is" if count == 1 else f"{count:,} photos of this clean-up are"
    return (f"{what} in {trash_name(platform)}, from which imgfinder cannot take photos back: to restore "
            f"them, {restore_hint(platform)} (undo now goes on to the clean-up before it)")


def default_sender() -> Sender:
    """send2trash's ``send2trash``: the system's own API (IFileOperation, NSFileManager)."""
    from send2trash import send2trash

    def send(path: str) -> None:
        send2trash(path)

    return send
