"""Scale: unchanged re-index of 10,000 files, ``similar`` and ``duplicates`` on 100,000 photos.

    .venv/bin/python benchmarks/scale.py                 # everything, default sizes
    .venv/bin/python benchmarks/scale.py --quick         # 20,000-entry catalog, 2,000 files
    .venv/bin/python benchmarks/scale.py --only similar --dim 256

* ``reindex``: ``imgfinder index`` run as a fresh process (imports included) on a folder of
  ``--files`` small JPEGs that are all already in the catalog. Nothing is decoded and the
  model is never loaded. The first, full index is made with a stub model that carries the
  real model's id, because the re-index does not depend on what the vectors are.
* ``similar``: on a synthetic ``--catalog``-entry catalog with clustered embeddings of
  ``--dim`` dimensions. Annoy recall@10 against exact brute-force search for several
  (trees, search_k); the index lookup alone; and, when ``--dim`` is the real model's,
  ``Library.similar`` end to end for a new 12 MP query photo with the model loaded.
* ``duplicates``: ``Library.duplicate_finder()`` + ``groups(0.90)`` in a fresh process, with
  its peak RSS (``getrusage``), on the same catalog (its index is built beforehand, as the
  indexer does).

Prints tables and writes ``benchmarks/out/scale[-<dim>].json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _data  # noqa: E402

REPO = _data.REPO


class StubEmbedder:
    """Stands in for the model where what the vectors are does not matter."""

    def __init__(self, model_id: str, dim: int, input_size: int = 224) -> None:
        self.model_id, self.dim, self.input_size = model_id, dim, input_size

    def embed(self, images: np.ndarray) -> np.ndarray:
        out = np.empty((len(images), self.dim), np.float32)
        for n, img in enumerate(images):
            seed = int.from_bytes(hashlib.blake2b(img.tobytes(), digest_size=8).digest(), "little")
            out[n] = np.random.default_rng(seed).random(self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def real_model_id() -> tuple[str, int]:
    from imgfinder.embedders import default_embedder

    e = default_embedder()
    return e.model_id, e.dim


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


# -- unchanged re-index ---------------------------------------------------------------
def bench_reindex(n_files: int, rounds: int) -> dict:
    from imgfinder.core.library import Library

    folder = _data.tiny_tree(n_files)
    model_id, dim = real_model_id()
    data_dir = _data.DATA / f"reindex-{n_files}-{hashlib.sha1(model_id.encode()).hexdigest()[:8]}"
    with Library(data_dir, StubEmbedder(model_id, dim)) as lib:
        t = time.perf_counter()
        ix = lib.indexer()
        list(ix.run([str(folder)]))
        first = time.perf_counter() - t
        print(f"  reindex: catalog of {lib.catalog.count()} files ready "
              f"({ix.summary.added} added in {first:.1f} s)", file=sys.stderr)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    walls = []
    for _ in range(rounds):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "imgfinder", "index", "--json", "--quiet",
                              "--data-dir", str(data_dir), str(folder)],
                             capture_output=True, text=True, env=env, check=False)
        walls.append(time.perf_counter() - t)
        if out.returncode not in (0, 2):
            raise SystemExit(out.stderr[-2000:])
    summary = json.loads(out.stdout)
    summary = summary.get("summary", summary)
    # The same run in-process, without interpreter start-up and imports.
    with Library(data_dir, StubEmbedder(model_id, dim)) as lib:
        inproc = []
        for _ in range(rounds):
            t = time.perf_counter()
            ix = lib.indexer()
            list(ix.run([str(folder)]))
            inproc.append(time.perf_counter() - t)
        assert ix.summary.decoded == 0 and ix.summary.unchanged == n_files, ix.summary.as_dict()
    return {"files": n_files, "cli_wall_s": statistics.median(walls), "cli_walls": walls,
            "in_process_s": statistics.median(inproc), "cli_summary": summary}


# -- similar --------------------------------------------------------------------------
def queries_for(vectors: np.ndarray, n: int, seed: int = 11) -> np.ndarray:
    """New photos: jittered versions of library photos (half) and fresh draws (half)."""
    rng = np.random.default_rng(seed)
    picks = vectors[rng.choice(len(vectors), n // 2, replace=False)]
    near = np.maximum(picks + rng.normal(0, 0.02, picks.shape).astype(np.float32), 0)
    fresh, _ = _data.clustered_embeddings(n - n // 2, vectors.shape[1], seed=seed + 1)
    q = np.vstack([near, fresh]).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(queries), k), np.int64)
    for s in range(0, len(queries), 64):
        scores = queries[s : s + 64] @ vectors.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, 1).argsort(axis=1)[:, ::-1]
        out[s : s + 64] = np.take_along_axis(top, order, 1)
    return out


def bench_similar(n: int, dim: int, trees_list: list[int], search_ks: list[int], n_queries: int,
                  e2e_queries: int) -> dict:
    from imgfinder.core.ann_index import IndexStore
    from imgfinder.core.catalog import Catalog
    from imgfinder.core.library import CATALOG_NAME, Library

    model_id, real_dim = real_model_id()
    real = dim == real_dim
    data_dir = _data.synthetic_catalog(n, dim, model_id if real else None)
    mid = (data_dir / "complete").read_text()
    with Catalog(data_dir / CATALOG_NAME) as cat:
        ids, vectors = cat.embeddings(mid)
        generation = cat.generation
    queries = queries_for(vectors, n_queries)
    t = time.perf_counter()
    truth = exact_top(vectors, queries, 10)
    exact_ms = (time.perf_counter() - t) / len(queries)
    grid = []
    for trees in trees_list:
        store = IndexStore(data_dir / f"ann-{trees}")
        build_s = None
        if not store.is_current(mid, generation):
            t = time.perf_counter()
            store.build(ids, vectors, mid, generation, trees=trees)
            build_s = time.perf_counter() - t
        index = store.load()
        for q in queries[:20]:  # fault the pages in: a running app has them resident
            index.query_vector(q, 10, search_k=max(search_ks))
        for sk in search_ks:
            hits = 0
            times = []
            for q, want in zip(queries, truth):
                t = time.perf_counter()
                got, _ = index.query_vector(q, 10, search_k=sk)
                times.append(time.perf_counter() - t)
                hits += len(set(got.tolist()) & set(ids[want].tolist()))
            grid.append({"trees": trees, "search_k": sk, "recall_at_10": hits / (10 * len(queries)),
                         "lookup_ms_median": statistics.median(times) * 1000,
                         "lookup_ms_p95": float(np.percentile(times, 95)) * 1000, "build_s": build_s})
            print(f"  trees={trees:3d} search_k={sk:6d} recall@10={grid[-1]['recall_at_10']:.3f} "
                  f"lookup {grid[-1]['lookup_ms_median']:.2f} ms", file=sys.stderr)
        index.unload()
    result: dict = {"catalog": n, "dim": dim, "queries": len(queries), "exact_ms_per_query": exact_ms * 1000,
                    "grid": grid}
    # The library's own defaults, end to end.
    from imgfinder.core import ann_index

    with Library(data_dir, StubEmbedder(mid, dim)) as lib:
        t = time.perf_counter()
        index = lib.index()  # builds with the defaults if needed
        result["default_index_ready_s"] = time.perf_counter() - t
        result["default_trees"] = index.manifest.trees
        result["default_search_k"] = ann_index.default_search_k(10, len(index), index.projection is not None)
        result["default_projected_dim"] = index.manifest.projected_dim
        hits = 0
        times = []
        for q, want in zip(queries, truth):
            t = time.perf_counter()
            got, _ = index.query_vector(q, 10)
            times.append(time.perf_counter() - t)
            hits += len(set(got.tolist()) & set(ids[want].tolist()))
        result["default_recall_at_10"] = hits / (10 * len(queries))
        result["default_lookup_ms_median"] = statistics.median(times) * 1000
        result["default_lookup_ms_p95"] = float(np.percentile(times, 95)) * 1000
        # A query vector to result rows: lookup + catalog rows, no model.
        times = []
        for q in queries[:100]:
            t = time.perf_counter()
            got, _ = index.query_vector(q, 10)
            lib.catalog.rows(got.tolist())
            times.append(time.perf_counter() - t)
        result["similar_to_vector_ms_median"] = statistics.median(times) * 1000
    # The end-to-end ``similar`` of a new photo needs stored descriptors and the retrieval
    # index, which this synthetic catalog (vectors only) does not have: that path is timed
    # on real photos by benchmarks/startup_cli.py (whole process) instead.
    if real and e2e_queries and _has_descriptors(data_dir):
        result.update(e2e_similar(data_dir, e2e_queries))
    return result


def _has_descriptors(data_dir: Path) -> bool:
    from imgfinder.core.library import CATALOG_NAME

    import sqlite3

    with sqlite3.connect(data_dir / CATALOG_NAME) as db:
        cols = [r[1] for r in db.execute("PRAGMA table_info(files)")]
        return "descriptor" in cols and db.execute("SELECT 1 FROM files WHERE descriptor IS NOT NULL LIMIT 1").fetchone() is not None


def e2e_similar(data_dir: Path, n_queries: int) -> dict:
    """``Library.similar`` for new 12 MP photos (not in the catalog), model loaded."""
    from imgfinder.core.library import Library
    from imgfinder.embedders import default_embedder

    photos = _data.camera_files(max(n_queries, 1) + 1)
    embedder = default_embedder()
    t = time.perf_counter()
    embedder.load()
    load_s = time.perf_counter() - t
    with Library(data_dir, embedder) as lib:
        lib.similar(photos[-1], k=10)  # warm: first TF call, index pages
        walls, embeds = [], []
        for p in photos[:n_queries]:
            t = time.perf_counter()
            hits = lib.similar(p, k=10)
            walls.append(time.perf_counter() - t)
            t = time.perf_counter()
            lib.embed_file(p)
            embeds.append(time.perf_counter() - t)
            assert len(hits) == 10
    return {"e2e_queries": n_queries, "model_load_s": load_s, "e2e_ms_median": statistics.median(walls) * 1000,
            "e2e_ms_p95": float(np.percentile(walls, 95)) * 1000, "e2e_ms_all": [w * 1000 for w in walls],
            "decode_embed_ms_median": statistics.median(embeds) * 1000}


# -- duplicates -----------------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space, which exec
    replaces; ``ru_maxrss`` would include the parent's peak from before the fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_duplicates(data_dir: str, dim: int, threshold: float) -> dict:
    from imgfinder.core.library import Library

    mid = (Path(data_dir) / "complete").read_text()
    rss0 = peak_rss_mb()
    with Library(data_dir, StubEmbedder(mid, dim)) as lib:
        assert lib.store.is_current(mid, lib.catalog.generation), "index not built"
        t = time.perf_counter()
        finder = lib.duplicate_finder()
        t1 = time.perf_counter()
        groups = finder.groups(threshold)
        t2 = time.perf_counter()
        in_groups = sum(len(g.members) for g in groups)
        labels = np.load(Path(data_dir) / "labels.npy")
        # Planted near-duplicate clusters found (every member in one group), as a sanity check.
        pos = {r.id: i for i, r in enumerate(lib.catalog.rows())}
        group_of = {}
        for gi, g in enumerate(groups):
            for m in g.members:
                group_of[pos[m.row.id]] = gi
        planted = {}
        for i in np.flatnonzero(labels >= 0).tolist():
            planted.setdefault(int(labels[i]), []).append(i)
        whole = sum(1 for members in planted.values()
                    if len({group_of.get(i, -1 - i) for i in members}) == 1)
    peak = peak_rss_mb()
    return {"seconds": t2 - t, "candidates_s": t1 - t, "grouping_s": t2 - t1, "pairs": len(finder._pairs),
            "groups": len(groups), "photos_in_groups": in_groups, "planted_clusters": len(planted),
            "planted_clusters_found_whole": whole, "peak_rss_mb": peak, "start_rss_mb": rss0}


def bench_duplicates(n: int, dim: int, threshold: float) -> dict:
    from imgfinder.core.library import Library

    model_id, real_dim = real_model_id()
    data_dir = _data.synthetic_catalog(n, dim, model_id if dim == real_dim else None)
    mid = (data_dir / "complete").read_text()
    with Library(data_dir, StubEmbedder(mid, dim)) as lib:
        t = time.perf_counter()
        lib.index()
        build = time.perf_counter() - t
    cmd = [sys.executable, __file__, "--child", json.dumps({"data_dir": str(data_dir), "dim": dim, "threshold": threshold})]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update({"catalog": n, "dim": dim, "threshold": threshold, "index_build_s_if_stale": build})
    return result


# -- driver ---------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", type=int, default=100_000, help="synthetic catalog size")
    ap.add_argument("--files", type=int, default=10_000, help="files for the unchanged re-index")
    ap.add_argument("--dim", type=int, default=None, help="embedding size (default: the real model's)")
    ap.add_argument("--trees", default="16,32,64", help="Annoy tree counts to try")
    ap.add_argument("--search-k", default="5000,10000,20000,40000", help="search_k values to try")
    ap.add_argument("--queries", type=int, default=300, help="queries for recall")
    ap.add_argument("--e2e-queries", type=int, default=10, help="new photos for end-to-end similar")
    ap.add_argument("--threshold", type=float, default=0.90)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=["reindex", "similar", "duplicates"], action="append")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child_duplicates(**json.loads(args.child))))
        return
    if args.quick:
        args.catalog, args.files, args.queries, args.e2e_queries, args.rounds = 20_000, 2_000, 100, 5, 1
    if args.dim is None:
        args.dim = real_model_id()[1]
    only = set(args.only or ["reindex", "similar", "duplicates"])
    out: dict = {"machine": _data.machine(), "args": vars(args)}
    rows = []
    if "reindex" in only:
        r = out["reindex"] = bench_reindex(args.files, args.rounds)
        rows.append((f"unchanged re-index, {r['files']:,} files (CLI, fresh process)", ms(r["cli_wall_s"]), "< 3 s",
                     f"{r['cli_wall_s'] / 3:.2f} of budget"))
        rows.append(("  of which the indexer in-process", ms(r["in_process_s"]), "", ""))
    if "similar" in only:
        s = out["similar"] = bench_similar(args.catalog, args.dim, [int(x) for x in args.trees.split(",")],
                                          [int(x) for x in args.search_k.split(",")], args.queries, args.e2e_queries)
        if "e2e_ms_median" in s:
            rows.append((f"similar, new 12 MP photo, {args.catalog:,} x {args.dim}-d (end to end)",
                         f"{s['e2e_ms_median']:.0f} ms (p95 {s['e2e_ms_p95']:.0f})", "< 150 ms",
                         f"{s['e2e_ms_median'] / 150:.2f} of budget"))
            rows.append(("  of which decode + embed", f"{s['decode_embed_ms_median']:.0f} ms", "", ""))
        rows.append((f"  index lookup (trees={s['default_trees']}, search_k={s['default_search_k']})",
                     f"{s['default_lookup_ms_median']:.2f} ms (p95 {s['default_lookup_ms_p95']:.2f})", "< 5 ms",
                     f"{s['default_lookup_ms_median'] / 5:.2f} of budget"))
        rows.append(("  lookup + catalog rows", f"{s['similar_to_vector_ms_median']:.2f} ms", "", ""))
        rows.append(("  recall@10 vs exact search", f"{s['default_recall_at_10']:.3f}", ">= 0.95",
                     f"{s['default_recall_at_10'] / 0.95:.3f} of target"))
        rows.append(("  exact search, numpy, 64 queries per product (for scale)", f"{s['exact_ms_per_query']:.1f} ms", "", ""))
    if "duplicates" in only:
        d = out["duplicates"] = bench_duplicates(args.catalog, args.dim, args.threshold)
        rows.append((f"duplicates, {args.catalog:,} x {args.dim}-d catalog", ms(d["seconds"]), "< 20 s",
                     f"{d['seconds'] / 20:.2f} of budget"))
        rows.append(("  peak memory (RSS, whole process)", f"{d['peak_rss_mb']:.0f} MB", "< 2048 MB",
                     f"{d['peak_rss_mb'] / 2048:.2f} of budget"))
        rows.append(("  planted near-duplicate clusters found whole",
                     f"{d['planted_clusters_found_whole']}/{d['planted_clusters']}", "", ""))
    print()
    print(_data.table(rows, ("measurement", "figure", "target", "ratio")))
    if "similar" in only:
        print("\nAnnoy recall@10 / lookup vs exact search:")
        print(_data.table([(g["trees"], g["search_k"], f"{g['recall_at_10']:.3f}", f"{g['lookup_ms_median']:.2f} ms",
                            f"{g['lookup_ms_p95']:.2f} ms") for g in out["similar"]["grid"]],
                          ("trees", "search_k", "recall@10", "lookup median", "lookup p95")))
    name = "scale" if args.dim == real_model_id()[1] else f"scale-{args.dim}"
    print(f"\nwrote {_data.write_json(name, out)}")


if __name__ == "__main__":
    main()
