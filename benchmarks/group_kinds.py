"""Group kinds on real photos that are all *different shots*: no group may be "copies".

    python benchmarks/group_kinds.py [--photos DIR] [--data-dir D] [--threshold T]

Indexes ``../shared/multiview/grocery`` (781 hand-held shots of 31 products, about 25 each,
some a second apart; none is a copy of another) with the real model into a temporary data
dir (or reuses ``--data-dir``), runs ``imgfinder duplicates --json --shots`` and reports:
groups of each kind, ``copies``/``exact`` groups holding two different shots (must be 0),
and the model id found in the catalog. Writes ``benchmarks/out/group_kinds.json``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GROCERY = REPO.parent / "shared" / "multiview" / "grocery"


def run_cli(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "imgfinder", *args, "--json", "--quiet"], capture_output=True,
                          text=True, cwd=REPO)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"imgfinder {' '.join(args)} failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=GROCERY)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse (or fill) this data dir")
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args()
    if not args.photos.is_dir():
        raise SystemExit(f"no photos in {args.photos}")
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="imgfinder-kinds-"))
    started = time.monotonic()
    indexed = run_cli("index", str(args.photos), "--data-dir", str(data))
    index_seconds = time.monotonic() - started
    extra = ["--threshold", str(args.threshold)] if args.threshold is not None else []
    started = time.monotonic()
    result = run_cli("duplicates", "--data-dir", str(data), "--shots", *extra)
    group_seconds = time.monotonic() - started
    with sqlite3.connect(data / "catalog.sqlite3") as con:
        models = [m for (m,) in con.execute("SELECT DISTINCT model_id FROM files WHERE model_id IS NOT NULL")]

    kinds = Counter(g["kind"] for g in result["groups"])
    # Every photo of the set is its own shot: a copies/exact group of two or more distinct
    # files (not byte-identical: "exact" false) holds two different shots.
    mixed = [g for g in result["groups"] if g["kind"] in ("copies", "exact")
             and sum(1 for f in g["files"] if not f["exact"]) >= 2]
    report = {
        "photos": str(args.photos), "data_dir": str(data), "model_id": models,
        "indexed": {k: indexed.get(k) for k in ("added", "unchanged", "failed", "seconds")},
        "threshold": result["threshold"], "groups": len(result["groups"]), "kinds": dict(kinds),
        "copies_groups_with_two_shots": len(mixed),
        "shots_groups": kinds.get("shots", 0),
        "mixed_examples": [[f["path"] for f in g["files"]] for g in mixed[:5]],
        "seconds": {"index": round(index_seconds, 1), "duplicates": round(group_seconds, 1)},
    }
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "group_kinds.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 1 if mixed else 0


if __name__ == "__main__":
    raise SystemExit(main())
