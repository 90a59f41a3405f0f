"""Export duplicate groups for spreadsheets (CSV) and scripts (JSON).

The JSON has the same shape as ``imgfinder duplicates --json`` so a script written
against the CLI reads the GUI's export unchanged. Given the catalog, each file carries its
EXIF facts (``"exif"``: date taken, camera, lens, exposure, GPS; ``PhotoInfo.exif_json``):
those stored when it was indexed, or read from the file's header for a photo indexed
before the catalog kept them.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence

from .catalog import Catalog, FileRow
from .duplicates import DuplicateGroup, removable_copies
from .formats import is_raw_name
from .metadata import PhotoInfo, read_metadata

CSV_COLUMNS = ["group", "kind", "keep", "exact", "score", "path", "width", "height", "size"]


def photo_infos(catalog: Catalog, rows: Iterable[FileRow]) -> dict[int, PhotoInfo]:
    """Row id -> EXIF facts of ``rows``: stored in the catalog, else read from the file's
    header (a row indexed before the catalog kept them)."""
    rows = list(rows)
    found = catalog.photo_infos(r.id for r in rows)
    for r in rows:
        if r.id not in found and r.error is None:
            found[r.id] = read_metadata(r.path)
    return found


def photo_json(info: PhotoInfo | None) -> dict | None:
    """The ``"exif"`` object of one file (None: its facts could not be read)."""
    return None if info is None or info.error is not None else info.exif_json()


def hits_json(catalog: Catalog, hits: Sequence[object]) -> list[dict]:
    """``similar --json`` results: path, score and the ``"exif"`` facts of each hit
    (``library.SimilarHit``: ``.row`` and ``.score``), its byte-identical ``"same_files"``
    and the results proven its edited ``"copies"`` (each with the same fields, no deeper)."""
    everyone = [*hits, *(c for h in hits for c in getattr(h, "copies", ()))]
    infos = photo_infos(catalog, (h.row for h in everyone))  # type: ignore[attr-defined]

    def one(h) -> dict:
        return {"path": h.row.path, "score": round(h.score, 6), "exif": photo_json(infos.get(h.row.id)),
                "same_files": list(getattr(h, "same_files", ()))}

    return [{**one(h), "copies": [one(c) for c in getattr(h, "copies", ())]} for h in hits]


def group_json(group: DuplicateGroup, infos: Mapping[int, PhotoInfo] | None = None) -> dict:
    files = []
    for i, m in enumerate(group.members):
        entry = {
            "path": m.row.path, "score": round(m.score, 6), "width": m.row.width,
            "height": m.row.height, "size": m.row.size, "exact": m.exact, "keep": i == 0, "link": m.link,
            "raw": is_raw_name(m.row.path),  # a camera RAW file (group kind "raw+jpeg": its JPEG beside it)
        }
        if infos is not None:
            entry["exif"] = photo_json(infos.get(m.row.id))
        files.append(entry)
    return {"kind": group.kind, "exact": group.all_exact, "files": files}


def groups_json(
    groups: Sequence[DuplicateGroup], threshold: float, problems: Iterable[tuple[str, str]] = (),
    catalog: Catalog | None = None,
) -> dict:
    """The groups for scripts; with ``catalog``, each file has its ``"exif"`` facts."""
    infos = None
    if catalog is not None:
        infos = photo_infos(catalog, (m.row for g in groups for m in g.members))
    copies, reclaim = removable_copies(groups)
    return {
        "threshold": threshold,
        "summary": {"groups": len(groups), "removable_copies": copies, "reclaimable_bytes": reclaim},
        "groups": [group_json(g, infos) for g in groups],
        "problems": [{"path": p, "reason": r} for p, r in problems],
    }


def write_json(
    path: str | os.PathLike[str], groups: Sequence[DuplicateGroup], threshold: float,
    problems: Iterable[tuple[str, str]] = (), catalog: Catalog | None = None,
) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(groups_json(groups, threshold, problems, catalog), handle, indent=2)
        handle.write("\n")


def groups_csv(groups: Sequence[DuplicateGroup]) -> bytes:
    """The CSV of the groups, exactly as ``duplicates --format csv`` prints it and the app
    exports it: one row per file, ``group`` numbered from 1, the keeper with keep=1, ``exact``
    1 for a byte-identical file; paths as the file system has them (``os.fsencode``: a name
    that is not UTF-8 comes back byte for byte)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for n, g in enumerate(groups, 1):
        for i, m in enumerate(g.members):
            writer.writerow([
                n, g.kind, int(i == 0), int(m.exact), f"{m.score:.6f}", m.row.path,
                m.row.width if m.row.width is not None else "",
                m.row.height if m.row.height is not None else "", m.row.size,
            ])
    return os.fsencode(text.getvalue())


def write_csv(path: str | os.PathLike[str], groups: Sequence[DuplicateGroup]) -> None:
    with open(path, "wb") as handle:
        handle.write(groups_csv(groups))
