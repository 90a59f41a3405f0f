"""``imgfinder undo``: put the last clean-up back (recovering an interrupted one first)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..cli_text import display_path, human_size
from .common import EXIT_OK, EXIT_UNREADABLE, UsageError, _files, _note, _open_catalog


def _cmd_undo(data_dir: Path, args: argparse.Namespace) -> int:
    from ..core.file_actions import FileMover

    catalog = _open_catalog(data_dir)
    if catalog is None:
        raise UsageError(f"nothing to undo: there is no library in {display_path(str(data_dir))}")
    with catalog:
        mover = FileMover(catalog)
        result = mover.undo_last(skip=args.skip)
    recovery = mover.recovery
    if recovery is not None:
        _report_recovery(recovery)
    for src, dst in result.skipped:
        _note(f"set aside {display_path(src)} (it stays at {display_path(dst)}; the log no longer offers it)")
    if result.in_system_trash:
        from ..core.system_trash import cannot_undo

        for path in result.in_system_trash:
            _note(f"not put back {display_path(path)}: it is in the system's trash")
        _note(cannot_undo(len(result.in_system_trash)))
    if result.batch is None:
        raise UsageError("nothing to undo: every clean-up logged in this library was undone already "
                         "(or none was made)")
    if args.json:
        print(json.dumps({
            "batch": result.batch, "restored": [{"path": src, "from": dst} for dst, src in result.done],
            "failed": [{"path": p, "reason": why} for p, why in result.failed], "bytes": result.bytes,
            "in_system_trash": result.in_system_trash,
        }, indent=2))
    else:
        if result.done:
            print(f"put back {_files(len(result.done))} ({human_size(result.bytes)}):")
            for dst, src in result.done:
                print(f"  {display_path(src)} (from {display_path(dst)})")
        else:
            print("put back no file")
        sys.stdout.flush()
    for path, why in result.failed:
        _note(f"not put back {display_path(path)}: {why}")
    if result.failed:
        _note(f"{_files(len(result.failed))} of this clean-up could not be put back and stay in the log; "
              "'imgfinder undo' tries them again, 'imgfinder undo --skip' sets them aside and undoes the "
              "clean-up before it")
    return EXIT_UNREADABLE if result.failed or result.in_system_trash else EXIT_OK


def _report_recovery(recovery) -> None:
    """Say what an interrupted clean-up left and how it was settled (stderr)."""
    if recovery.finished:
        _note(f"an interrupted clean-up or undo was finished: {_files(len(recovery.finished))} settled in the log")
    if recovery.rolled_back:
        _note(f"an interrupted clean-up or undo was rolled back: {_files(len(recovery.rolled_back))} left in place")
    for note in recovery.notes:
        _note(note)
