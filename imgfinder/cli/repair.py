"""``imgfinder repair``: rebuild a damaged catalog, keeping what can still be read."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli_text import display_path
from .common import EXIT_ERROR, EXIT_OK, _files


def _cmd_repair(data_dir: Path, args: argparse.Namespace) -> int:
    from ..core.library import repair

    report = repair(data_dir)
    if args.json:
        print(json.dumps({
            "data_dir": str(report.data_dir), "damaged": report.damaged, "reason": report.reason,
            "kept": [str(p) for p in report.kept], "ignored_pairs": report.ignored_pairs,
            "undo_entries": report.actions, "photos": report.photos, "folders": report.folders,
            "future_schema": report.future_schema, "damaged_undo_entries": report.journal,
            "settled": report.settled, "sound": report.sound,
        }, indent=2))
        return EXIT_ERROR if report.future_schema is not None else EXIT_OK
    where = display_path(str(report.data_dir))
    if report.future_schema is not None:
        from ..core.catalog import SCHEMA_VERSION

        print(f"the catalog in {where} is of a newer imgfinder (schema {report.future_schema}; this one "
              f"understands {SCHEMA_VERSION}): left as it is. Upgrade imgfinder to use it, or choose another "
              "--data-dir")
        return EXIT_ERROR
    for line in report.journal:
        print(f"damaged undo entry set aside (its file is not touched): {display_path(line)}")
    if report.settled:
        print(f"settled {_files(report.settled)} that an interrupted clean-up or undo left in flight")
    if not report.damaged:
        if report.sound:
            print(f"the catalog in {where} is sound: nothing to repair")
        return EXIT_OK
    kept = display_path(str(report.kept[0])) if report.kept else "(nothing left to keep)"
    print(f"the catalog was damaged ({report.reason}); it is kept as {kept}")
    print(
        f"a new catalog was made; carried over from the damaged one: {report.ignored_pairs} "
        f"'not duplicates' mark{'' if report.ignored_pairs == 1 else 's'} and {report.actions} "
        f"undo entr{'y' if report.actions == 1 else 'ies'}"
    )
    target = f" --data-dir {where}" if args.data_dir is not None else ""
    if report.folders:
        shown = " ".join(display_path(f) for f in report.folders[:5]) + (" ..." if len(report.folders) > 5 else "")
        print(f"now index your photos again: imgfinder index{target} {shown}")
        print(f"(the damaged catalog still listed {report.photos} photo{'' if report.photos == 1 else 's'} "
              f"in {len(report.folders)} folder{'' if len(report.folders) == 1 else 's'})")
    else:
        print(f"now index your photos again: imgfinder index{target} FOLDER")
    return EXIT_OK
