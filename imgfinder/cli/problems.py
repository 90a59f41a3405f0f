"""``imgfinder problems``: the files of the library that could not be read."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli_text import display_path
from .common import EXIT_OK, _empty_library, _files, _note


def _cmd_problems(data_dir: Path, args: argparse.Namespace) -> int:
    """The catalog's unreadable files (not those a clean-up moved to the trash)."""
    from ..core.catalog import Catalog
    from ..core.file_actions import in_trash
    from ..core.library import CATALOG_NAME, data_folder_read_only

    path = Path(data_dir) / CATALOG_NAME
    if not path.is_file():
        raise _empty_library(data_dir)
    with Catalog(path, read_only=data_folder_read_only(data_dir)) as catalog:
        listed = [(p, r) for p, r in catalog.problems() if not in_trash(p)]
    if args.json:
        print(json.dumps({"problems": [{"path": p, "reason": r} for p, r in listed]}, indent=2))
    elif not listed:
        print("no problems: every indexed file could be read")
    else:
        for p, r in listed:
            print(f"{display_path(p)}: {r}")
        _note(f"{_files(len(listed))} cannot be read; they are left out of searches until they change")
    return EXIT_OK
