"""How long ``imgfinder duplicates`` takes, and how many layout checks it runs, on a
library without copies and on one full of copies.

    python benchmarks/duplicates_speed.py [--quick] [--threshold T] [--index-only]

Libraries (indexed once with the real model, ``imgfinder.embedders.default_embedder()``,
into ``.bench-data/duplicates/``; later runs reuse the catalog and time only the
duplicate search):

* ``grocery``: the 781 photos of ``../shared/multiview/grocery``: different shots of 31
  products, no copies among them (the case that was quadratic);
* ``grocery-300``: its first 300 photos (the issue's "300 photos in < 2 s");
* ``copies``: the quality benchmark's set (``benchmarks/quality.py``'s ``build_set``):
  each shared photo gives two originals sharing no pixels, each with its 17 edited
  copies (``--quick``: the first 8 photos only).

The duplicate search runs in a child process per library (with a stand-in embedder that
only carries the model id, so TensorFlow is not loaded and the peak memory, VmHWM, is
the search's own): ``Library.iter_duplicate_finder`` then ``DuplicateFinder.iter_groups``,
the path the CLI and the GUI take. Reports the time of each phase, the pairs the cheap
filter rejected, the layout checks run (per photo: mean and max), groups and peak memory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

WORK = REPO / ".bench-data" / "duplicates"
GROCERY = REPO.parent / "shared" / "multiview" / "grocery"
PHOTOS = REPO.parent / "shared" / "photos"


class ModelIdOnly:
    """Carries the real model's id so the catalog's embeddings are used; never embeds."""

    def __init__(self, model_id: str) -> None:
        self.model_id, self.input_size = model_id, 160

    def embed(self, images):  # pragma: no cover - the catalog is complete
        raise RuntimeError("the benchmark's library is not indexed: run without --child first")


def library_folders(quick: bool) -> dict[str, Path]:
    """name -> folder of photos (built under WORK the first time)."""
    from quality import build_set  # benchmarks/quality.py: the same set as the quality benchmark

    from imgfinder.core.scanner import scan

    grocery = sorted(Path(f.path) for f in scan([GROCERY]))
    subset = WORK / "grocery-300"
    if not subset.is_dir():
        for src in grocery[:300]:
            dst = subset / src.relative_to(GROCERY)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    photos = sorted(Path(f.path) for f in scan([PHOTOS]))
    copies = WORK / ("copies-quick" if quick else "copies")
    build_set(photos[:8] if quick else photos, copies)
    return {"grocery-300": subset, "grocery": GROCERY, "copies": copies}


def index(folders: dict[str, Path]) -> None:
    """Index each library with the real model (only new or changed files are embedded)."""
    from imgfinder.core.library import Library
    from imgfinder.embedders import default_embedder

    embedder = default_embedder()
    for name, folder in folders.items():
        data = WORK / f"data-{name}"
        with Library(data, embedder) as lib:
            started = time.monotonic()
            ix = lib.indexer()
            for _ in ix.run([str(folder)]):
                pass
            lib.index()
            (data / "model_id").write_text(embedder.model_id)
            s = ix.summary
            print(f"indexed {name}: added {s.added}, unchanged {s.unchanged}, failed {s.failed} "
                  f"in {time.monotonic() - started:.1f}s", flush=True)


def child(data_dir: str, threshold: float) -> dict:
    """The duplicate search, timed, in this (fresh) process."""
    from _data import timed_duplicates
    from scale import peak_rss_mb

    from imgfinder.core.library import Library

    model_id = (Path(data_dir) / "model_id").read_text()
    start_rss = peak_rss_mb()
    with Library(data_dir, ModelIdOnly(model_id)) as lib:
        lib.index()
        finder, groups, seconds_candidates, seconds_grouping, updates = timed_duplicates(lib, threshold)
        t0, t1, t2 = 0.0, seconds_candidates, seconds_candidates + seconds_grouping
        stats = finder.stats
        photos = len(finder.rows)
        per_photo = list(stats.checks_per_row.values())
        return {
            "photos": photos, "candidate_pairs": len(finder._pairs),
            "pairs_above_threshold": stats.considered, "filtered": stats.filtered, "checked": stats.checked,
            "skipped_budget": stats.skipped, "checks_per_photo": stats.checked / max(1, photos),
            "max_checks_one_photo": max(per_photo, default=0), "groups": len(groups or []),
            "photos_in_groups": sum(len(g.members) for g in groups or []), "progress_updates": updates,
            "candidates_s": t1 - t0, "groups_s": t2 - t1, "duplicates_s": t2 - t0,
            "peak_rss_mb": peak_rss_mb(), "start_rss_mb": start_rss,
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="copies library from 8 photos instead of all")
    ap.add_argument("--threshold", type=float, default=None, help="default: the CLI's default")
    ap.add_argument("--index-only", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    from imgfinder.cli import DEFAULT_THRESHOLD

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    if args.child:
        print(json.dumps(child(args.child, threshold)))
        return 0
    folders = library_folders(args.quick)
    index(folders)
    if args.index_only:
        return 0
    print(f"\nthreshold {threshold}\n")
    print("| library | photos | pairs >= threshold | rejected by filter | checked | checks/photo | max/photo "
          "| groups | candidates | grouping | duplicates total | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in folders:
        cmd = [sys.executable, __file__, "--child", str(WORK / f"data-{name}"), "--threshold", str(threshold)]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {name} | {r['photos']} | {r['pairs_above_threshold']} | {r['filtered']} | {r['checked']} "
              f"| {r['checks_per_photo']:.2f} | {r['max_checks_one_photo']} | {r['groups']} "
              f"| {r['candidates_s']:.2f} s | {r['groups_s']:.2f} s | {r['duplicates_s']:.2f} s | {r['peak_rss_mb']:.0f} MB |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
