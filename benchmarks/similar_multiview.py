"""Multi-view similar-search benchmark: different shots of one product, through the real CLI.

    python benchmarks/similar_multiview.py [--groups ../shared/multiview/grocery_groups.csv] [--fold odd]

The photos of one fold of products (default: the *odd* products, which the shipped
retrieval whitening and Siamese head never saw: they are trained with ``--fold even``)
are indexed with ``imgfinder index`` into a fresh data folder; every photo is then a query
of one batched ``imgfinder similar --json`` call, and the other shots of its product are
the positives. Reported: mean average precision per query, for

* imgfinder (the retrieval vector, exactly what the CLI and app rank by; ``--each-copy``
  lists every result, where by default a result proven an edited copy of a better one is
  folded under it: these shots hold no copies);
* the plain backbone baseline in the same run: EfficientNet-Lite0 at 224 px, one pass,
  global average pooling, exact cosine ranking, on the same photos squeezed to the square;
* the stored 160 px four-turn descriptor alone (no whitening), exact cosine ranking;

and the spread of unrelated pairs (photos of different products): median and 90th
percentile cosine and the share at or above the duplicates threshold, for the backbone,
the copy vector (Siamese head) and the retrieval vector. Writes
``benchmarks/out/similar_multiview.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from imgfinder.core.duplicates import DEFAULT_THRESHOLD  # noqa: E402
from imgfinder.model.train import read_groups  # noqa: E402


def mean_average_precision(order_labels: list[list[str]], query_labels: list[str], positives: dict[str, int]) -> float:
    """mAP over queries: each query's ranked result labels (the query itself excluded)."""
    aps = []
    for ranked, label in zip(order_labels, query_labels):
        relevant = np.array([r == label for r in ranked], dtype=float)
        total = positives[label] - 1
        if total <= 0:
            continue
        hits = np.cumsum(relevant)
        aps.append(float((hits / np.arange(1, len(relevant) + 1))[relevant > 0].sum() / total))
    return float(np.mean(aps))


def exact_ranking_map(vectors: np.ndarray, labels: list[str], positives: dict[str, int]) -> float:
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    lab = np.array(labels)
    ranked = [lab[np.argsort(-sims[i], kind="stable")[:-1]].tolist() for i in range(len(x))]
    return mean_average_precision(ranked, labels, positives)


def spread(vectors: np.ndarray, labels: list[str], threshold: float) -> dict:
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = x @ x.T
    lab = np.array(labels)
    upper = np.triu(np.ones_like(sims, dtype=bool), 1)
    unrelated = sims[upper & (lab[:, None] != lab[None, :])]
    same = sims[upper & (lab[:, None] == lab[None, :])]
    return {
        "unrelated_pairs": int(unrelated.size),
        "unrelated_median": round(float(np.median(unrelated)), 4),
        "unrelated_p90": round(float(np.percentile(unrelated, 90)), 4),
        "unrelated_max": round(float(unrelated.max()), 4),
        "unrelated_at_threshold": int((unrelated >= threshold).sum()),
        "unrelated_at_threshold_share": float((unrelated >= threshold).mean()),
        "other_shots_median": round(float(np.median(same)), 4),
        "other_shots_at_threshold": int((same >= threshold).sum()),
    }


def fold_photos(groups: Path, fold: str, folder: Path) -> tuple[list[str], list[str]]:
    """The fold's photos copied into ``folder/<product>/`` (once), and their products."""
    sources, labels = read_groups(groups, fold)
    paths = []
    for src, label in zip(sources, labels):
        dst = folder / label / Path(src).name
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        paths.append(str(dst))
    return paths, labels


def run_cli(*args: str) -> tuple[dict, int]:
    cmd = [sys.executable, "-m", "imgfinder", *args, "--json", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(cmd[:5])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout), proc.returncode


def baseline_vectors(paths: list[str]) -> np.ndarray:
    """Plain EfficientNet-Lite0: 224 px, one pass, global average pooling."""
    from imgfinder.core.decoder import decode_for_model
    from imgfinder.model.keras_embedder import KerasEmbedder

    embedder = KerasEmbedder(input_size=224, rotations=1, batch_size=64)
    return embedder.features(np.stack([decode_for_model(p, 224).pixels for p in paths]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=Path, default=REPO.parent / "shared" / "multiview" / "grocery_groups.csv")
    parser.add_argument("--fold", choices=("odd", "even", "all"), default="odd", help="products to measure on")
    parser.add_argument("--work", type=Path, default=REPO / ".bench-data" / "multiview")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "similar_multiview.json")
    args = parser.parse_args()

    started = time.monotonic()
    photos_dir = args.work / f"photos-{args.fold}"
    paths, labels = fold_photos(args.groups, args.fold, photos_dir)
    positives = {l: labels.count(l) for l in set(labels)}
    data = args.work / f"data-{args.fold}"
    shutil.rmtree(data, ignore_errors=True)
    t0 = time.monotonic()
    summary, _ = run_cli("index", str(photos_dir), "--data-dir", str(data))
    index_seconds = time.monotonic() - t0
    t0 = time.monotonic()
    answer, _ = run_cli("similar", *paths, "-k", str(len(paths)), "--each-copy", "--data-dir", str(data))
    similar_seconds = time.monotonic() - t0
    label_of = dict(zip(paths, labels))
    # Each result, then the edited copies folded under it (what "Show edited copies" lists).
    ranked = [[label_of[x["path"]] for r in q["results"] for x in (r, *r.get("copies", ()))]
              for q in answer["queries"]]
    imgfinder_map = mean_average_precision(ranked, labels, positives)

    from imgfinder.core.catalog import Catalog
    from imgfinder.embedders import default_embedder

    embedder = default_embedder()
    with Catalog(data / "catalog.sqlite3") as catalog:
        ids, descriptors = catalog.descriptors(embedder.feature_id)
        rows = {r.id: r.path for r in catalog.rows(ids.tolist())}
    order = {p: n for n, p in enumerate(rows[i] for i in ids.tolist())}
    descriptors = descriptors[[order[p] for p in paths]]
    base = baseline_vectors(paths)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "groups": str(args.groups), "fold": args.fold, "photos": len(paths), "products": len(positives),
        "model_id": embedder.model_id, "retrieval_id": embedder.retrieval_id,
        "map": {
            "imgfinder_similar": round(imgfinder_map, 4),
            "baseline_backbone_224_gap": round(exact_ranking_map(base, labels, positives), 4),
            "descriptor_160_rot4_no_whitening": round(exact_ranking_map(descriptors, labels, positives), 4),
            "retrieval_vector_without_query_expansion": round(
                exact_ranking_map(embedder.retrieval_vectors(descriptors), labels, positives), 4),
        },
        "spread_threshold": DEFAULT_THRESHOLD,
        "spread": {
            "backbone_descriptor": spread(descriptors, labels, DEFAULT_THRESHOLD),
            "copy_vector_siamese_head": spread(embedder.copy_vectors(descriptors), labels, DEFAULT_THRESHOLD),
            "retrieval_vector": spread(embedder.retrieval_vectors(descriptors), labels, DEFAULT_THRESHOLD),
            "baseline_backbone_224_gap": spread(base, labels, DEFAULT_THRESHOLD),
        },
        "index_added": summary["added"], "index_seconds": round(index_seconds, 1),
        "similar_seconds_all_queries": round(similar_seconds, 1),
    }
    m = result["map"]
    result["ratio_to_baseline"] = round(m["imgfinder_similar"] / m["baseline_backbone_224_gap"], 3)
    result["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"{len(paths)} photos of {len(positives)} products (fold {args.fold})")
    print("| ranking | mAP | vs baseline |\n|---|---|---|")
    for name, value in m.items():
        print(f"| {name} | {value:.3f} | {value / m['baseline_backbone_224_gap']:.2f}x |")
    print(f"\nunrelated pairs (different products), threshold {DEFAULT_THRESHOLD}:")
    print("| vector | median | p90 | max | pairs >= threshold | other shots median |\n|---|---|---|---|---|---|")
    for name, s in result["spread"].items():
        print(f"| {name} | {s['unrelated_median']:.3f} | {s['unrelated_p90']:.3f} | {s['unrelated_max']:.3f} | "
              f"{s['unrelated_at_threshold']} of {s['unrelated_pairs']} ({100 * s['unrelated_at_threshold_share']:.3f} %) | "
              f"{s['other_shots_median']:.3f} |")
    print(f"\nwrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
