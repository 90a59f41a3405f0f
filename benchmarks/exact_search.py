"""Where Annoy starts to pay: exact cosine search against the Annoy index, per library size.

    python benchmarks/exact_search.py [--sizes 500,2000,...] [--dims 256,1280] [--queries 200]

Exact search (one matrix-vector product over every stored vector, then the top k) gives
results that never depend on how the index was built; Annoy is approximate. For each size
and vector width, both are timed on the same random unit vectors (clustered, as photo
descriptors are) in the same process, as the median of ``--queries`` top-41 queries
(``similar``'s default 20 results asks for 2k + 1), and Annoy's recall of the exact top 20
is reported. The ratio exact / Annoy decides ``ann_index.EXACT_MAX_WORK``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from imgfinder.core.ann_index import build_in_memory, exact_top  # noqa: E402


def clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((max(1, n // 20), dim)).astype(np.float32)
    v = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,2000,5000,10000,20000,50000")
    ap.add_argument("--dims", default="256,1280")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "out" / "exact_search.json")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    print("| vectors | dim | exact ms | Annoy ms | exact / Annoy | Annoy recall@20 |")
    print("|---|---|---|---|---|---|")
    for dim in (int(d) for d in args.dims.split(",")):
        for n in (int(s) for s in args.sizes.split(",")):
            vectors = clustered(n, dim, rng)
            index = build_in_memory(np.arange(n, dtype=np.int64), vectors, "bench", 1)
            queries = vectors[rng.integers(0, n, args.queries)] + 0.1 * rng.standard_normal((args.queries, dim)).astype(np.float32)
            queries /= np.linalg.norm(queries, axis=1, keepdims=True)
            exact_t, annoy_t, recall = [], [], []
            for q in queries:
                t = time.perf_counter()
                ids, _ = exact_top(index.vectors, q, 41)
                exact_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                found, _ = index.query_vector(q, 41, exact=False)
                annoy_t.append(time.perf_counter() - t)
                recall.append(len(set(ids[:20].tolist()) & set(found[:20].tolist())) / 20)
            e, a = float(np.median(exact_t)) * 1000, float(np.median(annoy_t)) * 1000
            rows.append({"vectors": n, "dim": dim, "exact_ms": e, "annoy_ms": a, "ratio": e / a,
                         "annoy_recall20": float(np.mean(recall))})
            print(f"| {n:,} | {dim} | {e:.2f} | {a:.2f} | {e / a:.2f} | {np.mean(recall):.3f} |", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
