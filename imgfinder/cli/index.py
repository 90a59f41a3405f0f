"""``imgfinder index``: scan, embed and index folders, and say what was left out."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..cli_text import ProgressPrinter, display_path
from ..core.skip_reasons import describe_skipped
from .common import EXIT_OK, EXIT_UNREADABLE, DataFolderGone, _identity, _leave_out, _note
from .errors import _data_folder_gone
from .undo import _report_recovery


def _photo_hints(roots: list[Path], leave_out=None) -> list[str]:
    """Why a root added nothing: an empty folder, a file that is not a photo, or every photo
    left out by --exclude / --min-size."""
    from collections import Counter

    from ..core.scanner import IMAGE_EXTENSIONS, is_image_name, scan

    kinds = " ".join(sorted(IMAGE_EXTENSIONS))
    hints = []
    for root in roots:
        if root.is_dir():
            skipped: Counter[str] = Counter()
            if next(scan([root], skipped=skipped, leave_out=leave_out), None) is None:
                if skipped["excluded"] or skipped["too_small"]:
                    hints.append(f"every photo in {display_path(str(root))} was left out by --exclude or --min-size")
                else:
                    hints.append(
                        f"no photos found in {display_path(str(root))}: photos are files ending in {kinds} "
                        "(in the folder or its subfolders; hidden and system folders are skipped)"
                    )
        elif not is_image_name(root.name):
            hints.append(f"{display_path(str(root))} is not a photo: photos are files ending in {kinds}")
    return hints


def _cmd_index(library, args: argparse.Namespace, progress: ProgressPrinter) -> int:
    leave_out = _leave_out(args)
    options: dict[str, Any] = {"batch_size": args.batch_size, "first_batch": 2}  # the first photos within a second
    if args.workers:
        options["workers"] = args.workers
    if leave_out is not None:
        options["leave_out"] = leave_out
    from ..core.file_actions import recover

    _report_recovery(recover(library.catalog))  # before the scan: a photo half-moved is settled
    catalog_id = _identity(library.catalog.path)
    indexer = library.indexer(**options)
    started = time.monotonic()
    for p in indexer.run([str(r) for r in args.roots]):
        progress(p)
    progress.end()
    if _identity(library.catalog.path) != catalog_id:
        raise DataFolderGone(_data_folder_gone(library.data_dir) or (
            f"the catalog {display_path(str(library.catalog.path))} was deleted or replaced while indexing: "
            "nothing of this run was kept; index again"))
    summary = indexer.summary
    elapsed = time.monotonic() - started
    for hint in _photo_hints(args.roots, leave_out):
        _note(hint)
    if args.json:
        out = summary.as_dict()
        out["seconds"] = round(elapsed, 3)
        out["data_dir"] = str(library.data_dir)
        print(json.dumps(out, indent=2))
    else:
        resumed = f" ({summary.resumed} finished from an interrupted run)" if summary.resumed else ""
        skipped = describe_skipped(summary.skipped)
        known = len(summary.known_unreadable)
        print(
            f"added {summary.added}{resumed}, updated {summary.updated}, unchanged {summary.unchanged}, "
            f"removed {summary.removed}, failed {summary.failed} in {elapsed:.1f}s"
            + (f"; {known:,} known unreadable (see 'imgfinder problems')" if known else "")
            + (f"; {skipped}" if skipped else "")
        )
        sys.stdout.flush()
        for path, reason in summary.new_problems:
            _note(f"cannot read {display_path(path)}: {reason}")
    # Exit 2 only for something new that cannot be read: files known unreadable from an
    # earlier run are listed by 'imgfinder problems', not failed again on every run.
    return EXIT_UNREADABLE if summary.new_problems else EXIT_OK
