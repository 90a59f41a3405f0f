"""What reading and storing the EXIF facts costs the indexer, per photo.

    .venv/bin/python benchmarks/exif_cost.py [FOLDER ...]   # default: tests/photos, ../shared/photos

For each folder of JPEGs: the header parse the indexer does anyway (``PhotoFile``: open,
identify, read the orientation), the extra time of ``metadata.image_info`` on that open
image (date, camera, lens, exposure, GPS), decoding for the model (224 px) for scale, and
the catalog's ``write_batch`` per row without and with the facts (2,000 rows in batches of
32, a 1280-float embedding each). Best of several repeats (the machine may be shared).
Writes ``benchmarks/out/exif_cost.json``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import machine, table, write_json  # noqa: E402

from imgfinder.core.catalog import Catalog, FileRecord  # noqa: E402
from imgfinder.core.decoder import PhotoFile  # noqa: E402
from imgfinder.core.metadata import image_info, read_metadata  # noqa: E402


def per_photo(paths: list[Path], work, repeats: int) -> float:
    """Best-of-``repeats`` microseconds per photo of ``work(path)`` over ``paths``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for p in paths:
            work(str(p))
        best = min(best, time.perf_counter() - start)
    return best / len(paths) * 1e6


def header(path: str) -> None:
    with PhotoFile(path) as photo:
        photo.image.getexif().get(0x0112)  # what decoding reads anyway (the orientation)


def header_and_facts(path: str) -> None:
    with PhotoFile(path) as photo:
        image_info(photo.image, path, 0)
        photo.image.getexif().get(0x0112)


def decode(path: str) -> None:
    with PhotoFile(path) as photo:
        photo.decode_for_model(224, "-")


def write_cost(infos: list, with_facts: bool, rows: int = 2000) -> float:
    with tempfile.TemporaryDirectory() as tmp, Catalog(Path(tmp) / "c.sqlite3") as cat:
        records = [
            FileRecord(f"/photos/{i}.jpg", 1, 2, f"h{i}", 3, 4, np.ones(1280, np.float32),
                       info=infos[i % len(infos)] if with_facts else None)
            for i in range(rows)
        ]
        start = time.perf_counter()
        for s in range(0, rows, 32):
            cat.write_batch(records[s : s + 32], "m")
        return (time.perf_counter() - start) / rows * 1e6


def main() -> int:
    folders = [Path(a) for a in sys.argv[1:]] or [REPO / "tests" / "photos", REPO.parent / "shared" / "photos"]
    results = []
    for folder in folders:
        paths = sorted(folder.glob("*.jpg"))
        if not paths:
            print(f"{folder}: no JPEGs, skipped")
            continue
        infos = [read_metadata(str(p)) for p in paths]
        with_exif = sum(1 for i in infos if i.date_taken or i.camera)
        base = per_photo(paths, header, 20)
        facts = per_photo(paths, header_and_facts, 20)
        results.append({
            "folder": str(folder), "photos": len(paths), "with_exif": with_exif,
            "header_us": round(base), "facts_extra_us": round(facts - base),
            "decode_ms": round(per_photo(paths, decode, 3) / 1000, 1),
            "write_us_without": round(write_cost(infos, False)), "write_us_with": round(write_cost(infos, True)),
        })
    print(table(
        [(Path(r["folder"]).name, f"{r['photos']} ({r['with_exif']} with EXIF)", r["header_us"], r["facts_extra_us"],
          r["decode_ms"], f"{r['write_us_without']} -> {r['write_us_with']}") for r in results],
        ("folder", "photos", "header µs", "+ EXIF facts µs", "decode ms", "catalog write µs/row"),
    ))
    print("wrote", write_json("exif_cost", {"machine": machine(), "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
