"""Export duplicate groups for spreadsheets (CSV) and scripts (JSON).

The JSON has the same shape as ``imgfinder duplicates --json`` so a script written
against the CLI reads the GUI's export unchanged.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence

from .duplicates import DuplicateGroup

CSV_COLUMNS = ["group", "kind", "keep", "exact", "score", "path", "width", "height", "size"]


def group_json(group: DuplicateGroup) -> dict:
    return {
        "kind": group.kind,
        "exact": group.all_exact,
        "files": [
            {
                "path": m.row.path, "score": round(m.score, 6), "width": m.row.width,
                "height": m.row.height, "size": m.row.size, "exact": m.exact, "keep": i == 0,
            }
            for i, m in enumerate(group.members)
        ],
    }


def groups_json(
    groups: Sequence[DuplicateGroup], threshold: float, problems: Iterable[tuple[str, str]] = (),
) -> dict:
    return {
        "threshold": threshold,
        "groups": [group_json(g) for g in groups],
        "problems": [{"path": p, "reason": r} for p, r in problems],
    }


def write_json(
    path: str | os.PathLike[str], groups: Sequence[DuplicateGroup], threshold: float,
    problems: Iterable[tuple[str, str]] = (),
) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(groups_json(groups, threshold, problems), handle, indent=2)
        handle.write("\n")


def write_csv(path: str | os.PathLike[str], groups: Sequence[DuplicateGroup]) -> None:
    """One row per file; ``group`` numbers from 1; the keeper has keep=1."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for n, g in enumerate(groups, 1):
            for i, m in enumerate(g.members):
                writer.writerow([
                    n, g.kind, int(i == 0), int(m.exact), f"{m.score:.6f}", m.row.path,
                    m.row.width if m.row.width is not None else "",
                    m.row.height if m.row.height is not None else "", m.row.size,
                ])
