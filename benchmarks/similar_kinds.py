"""Similar search per kind of photo, next to the plain backbone and one-pass GeM recipes (issue #22).

    python benchmarks/similar_kinds.py [--sizes 320,512] [--kinds grocery,halves,heldout]

For each kind, every photo with another photo of the same thing is a query and those
photos are its positives; mean average precision (mAP) of an exact cosine ranking over
the kind's photos, for:

* ``imgfinder similar``: the real CLI (``imgfinder index`` into a fresh data folder, then
  one batched ``imgfinder similar --json --each-copy``), what a user gets (``--each-copy``:
  the ranking itself, every result listed; by default a result proven an edited copy of a
  better one is folded under it, and these sets hold no copies, while proving the pairs of
  355 results for each of 355 queries would take most of the run);
* ``backbone 224 gap``: plain EfficientNet-Lite0, 224 px (squeezed to the square), one
  pass, global average pooling: the baseline;
* ``stored 160 x4``: the descriptor the catalog stores (160 px, mean of four turns), no
  whitening;
* ``gem S``: one pass of the same backbone at about ``S x S`` pixels with the photo's
  aspect ratio kept (from the decoder's draft decode), GeM pooling (p = 3) of the last
  feature map, nothing fitted;
* ``gem S + library PCA``: the same, whitened by the covariance of the kind's own photos
  (no labels), shrunk towards the identity (``library_pca``), as a library would be.

Kinds (nothing here is fitted on any of them except what the shipped model was fitted on,
said per kind):

* ``grocery``: the 15 products of ``../shared/multiview`` that the shipped head and
  whitening never saw (``--fold odd``), ~24 shots each: *the kind the whitening was fitted
  on* (other products, same shelves);
* ``halves``: each of the 23 ``../shared/photos`` as its left and its right 45 % (they
  share no pixels): two views of one place; the quality set is made of these photos;
* ``heldout``: ``../shared/heldout``, 13 views around one sculpture among 20 other photos
  (check only: never fitted on).

Also per kind and recipe: the spread of cosines of unrelated pairs and of pairs of one
thing (median, 90th / 10th percentile), and the network seconds per photo of each recipe
in the same run (Keras, a 4:3 photo at the recipe's size, warm; ``stored 160 x4`` is
today's indexing pass). Writes
``benchmarks/out/similar_kinds.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from similar_multiview import baseline_vectors, fold_photos, mean_average_precision, run_cli  # noqa: E402

SHARED = Path(os.environ.get("IMGFINDER_SHARED", REPO.parent / "shared"))
KINDS = ("grocery", "halves", "heldout")
GEM_P = 3.0


# -- the kinds ----------------------------------------------------------------------------
def grocery(work: Path) -> tuple[list[str], list[str]]:
    return fold_photos(SHARED / "multiview" / "grocery_groups.csv", "odd", work)


def halves(work: Path) -> tuple[list[str], list[str]]:
    from PIL import Image

    paths, labels = [], []
    work.mkdir(parents=True, exist_ok=True)
    for src in sorted((SHARED / "photos").glob("*.jpg")):
        with Image.open(src) as im:
            im = im.convert("RGB")
            w, h = im.size
            for side, box in (("L", (0, 0, int(w * 0.45), h)), ("R", (w - int(w * 0.45), 0, w, h))):
                dst = work / f"{src.stem}_{side}.jpg"
                if not dst.exists():
                    im.crop(box).save(dst, "JPEG", quality=95)
                paths.append(str(dst))
                labels.append(src.stem)
    return paths, labels


def heldout(work: Path) -> tuple[list[str], list[str]]:
    paths, labels = [], []
    for sub in ("sculpture", "other"):
        for src in sorted((SHARED / "heldout" / sub).glob("*.jpg")):
            dst = work / sub / src.name
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
            paths.append(str(dst))
            labels.append("sculpture" if sub == "sculpture" else src.stem)
    return paths, labels


# -- recipes ------------------------------------------------------------------------------
def exact_map(vectors: np.ndarray, labels: list[str]) -> float:
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    lab = np.array(labels)
    positives = {label: labels.count(label) for label in set(labels)}
    ranked = [lab[np.argsort(-sims[i], kind="stable")[:-1]].tolist() for i in range(len(x))]
    return mean_average_precision(ranked, labels, positives)


def spread(vectors: np.ndarray, labels: list[str]) -> dict:
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = x @ x.T
    lab = np.array(labels)
    upper = np.triu(np.ones_like(sims, dtype=bool), 1)
    unrelated, same = sims[upper & (lab[:, None] != lab[None, :])], sims[upper & (lab[:, None] == lab[None, :])]
    return {"unrelated_median": round(float(np.median(unrelated)), 3),
            "unrelated_p90": round(float(np.percentile(unrelated, 90)), 3),
            "same_median": round(float(np.median(same)), 3), "same_p10": round(float(np.percentile(same, 10)), 3),
            "unrelated_pairs": int(unrelated.size), "same_pairs": int(same.size)}


class GemBackbone:
    """EfficientNet-Lite0's last feature map at any size, GeM-pooled (one pass)."""

    def __init__(self) -> None:
        from imgfinder.model.efficientnet_lite import build_efficientnet_lite0, feature_map_model
        from imgfinder.model.weights import load_backbone_weights

        self.model = feature_map_model(build_efficientnet_lite0(load_backbone_weights(), include_top=False,
                                                                input_size=None))

    def pixels(self, path: str, side: int) -> np.ndarray:
        """The photo at about ``side x side`` pixels, its aspect ratio kept."""
        from PIL import Image

        from imgfinder.core.decoder import PhotoFile, to_rgb

        with PhotoFile(path) as photo:
            img, _, _ = photo.load(min_side=side)  # short side >= side: area >= side x side
            img = to_rgb(img)
            w, h = img.size
            scale = (side * side / (w * h)) ** 0.5
            size = (max(32, round(w * scale)), max(32, round(h * scale)))
            return np.asarray(img.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)

    def vectors(self, paths: list[str], side: int) -> np.ndarray:
        import tensorflow as tf

        out = []
        for p in paths:
            fmap = self.model(tf.constant(self.pixels(p, side)[None]), training=False).numpy()[0]
            pooled = np.mean(np.maximum(fmap, 1e-6) ** GEM_P, axis=(0, 1)) ** (1.0 / GEM_P)
            out.append(pooled / np.linalg.norm(pooled))
        return np.stack(out).astype(np.float32)

    def seconds(self, shape: tuple[int, int, int], repeats: int = 10) -> float:
        """Network seconds of one call on a batch of ``shape`` (turns, height, width),
        warmed up first (a new shape costs a trace), so recipes compare like for like."""
        import tensorflow as tf

        x = tf.constant(np.random.default_rng(0).uniform(0, 255, (*shape, 3)).astype(np.float32))
        self.model(x, training=False)
        t = time.perf_counter()
        for _ in range(repeats):
            self.model(x, training=False).numpy()
        return (time.perf_counter() - t) / repeats


def library_pca(x: np.ndarray) -> np.ndarray:
    """Whitening by the library's own covariance, shrunk towards the identity (no labels):
    ``(C + l I)^(-1/2) (x - mean)`` with ``l`` the mean variance per dimension, so the
    directions a few hundred photos cannot estimate are left as they are instead of being
    blown up (the plain PCA whitening of so few photos collapsed: 0.22 on grocery)."""
    mean = x.mean(0)
    centred = (x - mean).astype(np.float64)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    ev = sv ** 2 / max(1, len(x) - 1)
    lam = float((centred ** 2).sum() / max(1, len(x) - 1) / x.shape[1])  # trace(C) / D
    along = centred @ vt.T
    rest = centred - along @ vt
    y = along / np.sqrt(ev + lam) @ vt + rest / np.sqrt(lam)
    return (y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def stored_and_cli(paths: list[str], labels: list[str], folder: Path, data: Path) -> tuple[dict, np.ndarray, float]:
    """``imgfinder similar``'s mAP through the CLI, the stored descriptors, index seconds."""
    from imgfinder.core.catalog import Catalog
    from imgfinder.embedders import default_embedder

    shutil.rmtree(data, ignore_errors=True)
    t = time.perf_counter()
    run_cli("index", str(folder), "--data-dir", str(data))
    index_s = time.perf_counter() - t
    answer, _ = run_cli("similar", *paths, "-k", str(len(paths)), "--each-copy", "--data-dir", str(data))
    label_of = dict(zip(paths, labels))
    ranked = []
    for q in answer["queries"]:
        row: list[str] = []
        for r in q["results"]:  # each result, its identical files, then its folded copies (and theirs)
            for x in (r, *r.get("copies", ())):
                row += [label_of[x["path"]]] + [label_of[p] for p in x.get("same_files", []) if p in label_of]
        ranked.append(row)
    positives = {label: labels.count(label) for label in set(labels)}
    embedder = default_embedder()
    with Catalog(data / "catalog.sqlite3") as catalog:
        ids, descriptors = catalog.descriptors(embedder.feature_id)
        rows = {r.id: r.path for r in catalog.rows(ids.tolist())}
    order = {p: n for n, p in enumerate(rows[i] for i in ids.tolist())}
    return {"map": mean_average_precision(ranked, labels, positives)}, descriptors[[order[p] for p in paths]], index_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--sizes", default="320,512", help="GeM input sides (about S x S pixels, aspect kept)")
    ap.add_argument("--work", type=Path, default=REPO / ".bench-data" / "similar-kinds")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "similar_kinds.json")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    started = time.perf_counter()
    gem = GemBackbone()
    results: dict[str, dict] = {}
    for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
        folder = args.work / kind
        paths, labels = {"grocery": grocery, "halves": halves, "heldout": heldout}[kind](folder)
        cli, stored, index_s = stored_and_cli(paths, labels, folder, args.work / f"data-{kind}")
        base = baseline_vectors(paths)
        maps = {"imgfinder similar": cli["map"], "backbone 224 gap": exact_map(base, labels),
                "stored 160 x4": exact_map(stored, labels)}
        spreads = {"backbone 224 gap": spread(base, labels), "stored 160 x4": spread(stored, labels)}
        for s in sizes:
            v = gem.vectors(paths, s)
            maps[f"gem {s}"] = exact_map(v, labels)
            spreads[f"gem {s}"] = spread(v, labels)
            w = library_pca(v)
            maps[f"gem {s} + library PCA"] = exact_map(w, labels)
            spreads[f"gem {s} + library PCA"] = spread(w, labels)
        queries = sum(labels.count(label) > 1 for label in labels)
        results[kind] = {"photos": len(paths), "queries": queries, "map": {k: round(v, 4) for k, v in maps.items()},
                         "spread": spreads, "index_s": round(index_s, 1)}
        print(f"{kind}: {len(paths)} photos, {queries} queries", flush=True)

    from _data import table

    names = list(next(iter(results.values()))["map"])
    rows = [(name, *(f"{r['map'][name]:.3f} ({r['map'][name] / r['map']['backbone 224 gap']:.2f}x)"
                      for r in results.values())) for name in names]
    print()
    print(table(rows, ("mAP (vs backbone 224 gap)", *results)))
    rows = [(name, *(f"{r['spread'][name]['unrelated_median']:.2f} / {r['spread'][name]['unrelated_p90']:.2f} | "
                     f"{r['spread'][name]['same_median']:.2f} / {r['spread'][name]['same_p10']:.2f}"
                     if name in r["spread"] else "-" for r in results.values()))
            for name in names if name != "imgfinder similar"]
    print()
    print(table(rows, ("cosine: unrelated median / p90 | same thing median / p10", *results)))
    # A 4:3 photo at each recipe's size; today's pass is four turns of a 160 px square.
    seconds = {"stored 160 x4": gem.seconds((4, 160, 160)), "backbone 224 gap": gem.seconds((1, 224, 224))}
    for s in sizes:
        h = round(s * (3 / 4) ** 0.5)
        seconds[f"gem {s}"] = gem.seconds((1, h, round(s * s / h)))
    print("\nnetwork seconds per photo (Keras on the CPU, a 4:3 photo, warm): " + ", ".join(
        f"{k} {v * 1e3:.0f} ms ({v / seconds['stored 160 x4']:.2f}x today's)" for k, v in seconds.items()))
    out = {"date": time.strftime("%Y-%m-%d"),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "gem_p": GEM_P, "sizes": sizes, "kinds": results,
           "network_s_per_photo": {k: round(v, 4) for k, v in seconds.items()}, "seconds": round(time.perf_counter() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.out} ({out['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
