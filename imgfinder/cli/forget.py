"""``imgfinder forget``: take folders out of the library and the app's list (files untouched)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..cli_text import display_path
from .common import EXIT_ERROR, EXIT_OK, UsageError, _empty_library, _note, _open_catalog, _settings


def _cmd_forget(data_dir: Path, args: argparse.Namespace) -> int:
    from ..core.file_actions import is_under

    catalog = _open_catalog(data_dir)
    if catalog is None:
        raise _empty_library(data_dir)
    folders = [os.path.abspath(f) for f in args.folders]
    for folder, given in zip(folders, args.folders):
        if os.path.isfile(folder):
            raise UsageError(f"{display_path(str(given))} is a file: forget takes folders")
    with catalog:
        counts = [catalog.remove_folder(folder) for folder in folders]
    kept_by_app: list[tuple[str, str]] = []  # (forgotten folder, app folder that holds it)
    settings = _settings(data_dir, "its list of folders")
    listed = settings.folders
    remaining = [f for f in listed if not is_under(f, folders)]
    if remaining != listed:
        try:
            settings.folders = remaining
        except OSError as exc:
            raise UsageError(f"the photos were forgotten, but the app's list of folders could not be "
                             f"saved: {exc}") from exc
    kept_by_app = [(f, top) for f in folders for top in remaining if is_under(f, [top])]
    if not any(counts) and not args.json:
        # An error, on stderr as every error: the folder was probably mistyped.
        raise UsageError("nothing to forget: no photo in the library is in "
                         + ", ".join(display_path(f) for f in folders))
    if args.json:
        print(json.dumps({
            "forgotten": [{"folder": f, "photos": n} for f, n in zip(folders, counts)], "photos": sum(counts),
        }, indent=2))
    else:
        for folder, n in zip(folders, counts):
            print(f"forgot {n:,} photo{'' if n == 1 else 's'} in {display_path(folder)}"
                  + ("" if n else " (none were in the library)"))
        if len(folders) > 1:
            print(f"forgot {sum(counts):,} photo{'' if sum(counts) == 1 else 's'} in all")
        sys.stdout.flush()
    for folder, top in kept_by_app:
        _note(f"the desktop app indexes {display_path(top)}, which holds {display_path(folder)}: its photos "
              "come back at the app's next scan (remove the folder in File > Manage folders instead)")
    return EXIT_OK if any(counts) else EXIT_ERROR
