"""How a failure of the environment is said in one line: a read-only or vanished data
folder, a full disk, a damaged catalog, a closed stdout."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..cli_text import display_path, human_size
from ..core.catalog import CatalogDamaged
from .common import UsageError, _acting


def _writes(args: argparse.Namespace) -> bool:
    """Whether the command writes the data folder (listings and searches only read it)."""
    if args.command == "duplicates":
        return bool(_acting(args) and not args.dry_run)
    return args.command in ("index", "undo", "repair", "forget")


def _read_only_message(args: argparse.Namespace, data_dir: Path) -> str:
    what = "duplicates --trash" if getattr(args, "trash", False) else (
        "duplicates --move-to" if args.command == "duplicates" else args.command)
    return (f"the data folder {display_path(str(data_dir))} is read-only: '{what}' needs to write to it "
            "(listings and searches still work; make it writable, or choose another --data-dir)")


def _refuse_writes_read_only(args: argparse.Namespace, data_dir: Path) -> None:
    """Stop a command that must write before it starts when the data folder is read-only."""
    from ..core.library import data_folder_read_only

    if _writes(args) and data_folder_read_only(data_dir):
        raise UsageError(_read_only_message(args, data_dir))


def _read_only_refused(exc: BaseException, args: argparse.Namespace, data_dir: Path | None) -> str | None:
    """One line when SQLite or the OS refused a write as read-only (``data_folder_read_only``
    cannot see every case: ACLs, a mount made read-only meanwhile), else None."""
    import errno

    from ..core.catalog import is_read_only_error

    if data_dir is None or not (is_read_only_error(exc) or getattr(exc, "errno", None) == errno.EROFS):
        return None
    return _read_only_message(args, data_dir)


def _quiet_closed_stdout() -> None:
    """stdout's reader went away (``imgfinder undo | head -1``): end quietly, and keep
    Python's final flush from reporting the closed pipe too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _disk_full(exc: BaseException, data_dir: Path | None) -> str | None:
    """One line for a full disk (which disk, how much is free and how much more was
    needed when that is known), or None if ``exc`` is not about a full disk. numpy says
    "5760 requested and 992 written", SQLite "database or disk is full"."""
    import errno
    import re
    import shutil

    text = str(exc)
    short = re.search(r"(\d+) requested and (\d+) written", text)
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or short is not None \
        or "database or disk is full" in text
    if not full:
        return None
    name = getattr(exc, "filename", None)
    where = os.fsdecode(name) if name else str(data_dir or ".")
    folder = Path(where)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    mount = folder.resolve()
    while mount.parent != mount and not os.path.ismount(mount):
        mount = mount.parent
    try:
        free = human_size(shutil.disk_usage(folder).free)
    except OSError:
        free = "?"
    needed = f"; at least {human_size(int(short.group(1)) - int(short.group(2)))} more was needed" if short else ""
    return (f"the disk holding {display_path(str(where))} (mounted at {mount}) is full: {free} free{needed}. "
            "Free some space there (or choose another --data-dir) and run the command again")


def _data_folder_gone(data_dir: Path | None) -> str | None:
    if data_dir is None or os.path.isdir(data_dir):
        return None
    return (f"the data folder {display_path(str(data_dir))} was deleted or moved away while imgfinder was "
            "running: nothing was kept")


def _os_error(exc: OSError, data_dir: Path | None) -> str:
    if not exc.filename:
        return str(exc)
    name = os.fsdecode(exc.filename) if isinstance(exc.filename, bytes) else str(exc.filename)
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and os.path.isfile(name):
        text = f"{display_path(name)} is a file where a folder is needed"
    else:
        text = f"{exc.strerror or exc}: {display_path(name)}"
    if data_dir is not None:
        folder = os.path.abspath(data_dir)
        if os.path.abspath(name) == folder or os.path.abspath(name).startswith(folder + os.sep):
            text = (
                f"cannot use the data folder {display_path(folder)}: {text} "
                "(move that away, or choose another folder with --data-dir)"
            )
    return text


def _damaged(exc: CatalogDamaged, data_dir: Path | None) -> str:
    """One line: which file, SQLite's reason, and the command that repairs it."""
    command = "imgfinder repair" + (f" --data-dir {display_path(str(data_dir))}" if data_dir is not None else "")
    return (
        f"the catalog {display_path(str(exc.path))} is damaged ({exc.reason}): run '{command}' "
        "to keep it aside and start a new one (photos are not touched)"
    )
