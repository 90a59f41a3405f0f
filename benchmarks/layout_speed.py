"""Time per checked pair of the layout verification (``imgfinder.core.layout``), against
the implementation of the last commit, and what its cheap filter lets through.

    python benchmarks/layout_speed.py [--pairs N] [--grocery N]

Layouts come from the shared photos the way the quality benchmark makes its set: each
photo gives two originals sharing no pixels (``benchmarks/quality.py``'s ``two_shots``),
each with the 17 edits of ``imgfinder.model.edits.BENCHMARK_EDITS``; plus shots of the
multiview grocery set (other shots of one product: the pairs a library without copies
asks about). Reports:

* ms per ``match`` for the old code (``git show HEAD:imgfinder/core/layout.py``, loaded
  as a module) and the new, on the same pairs, and whether their decisions agree;
* ms per cheap-filter call, the lowest filter score of any copy (every one of the
  17 x 46 copies must pass) and the share of different pictures it rejects;
* OpenCV's ``cv2.matchTemplate`` (if installed) for the coarse search against ours.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from imgfinder.core import image_ops, layout_search  # noqa: E402
from imgfinder.core import layout as new  # noqa: E402
from imgfinder.model.edits import BENCHMARK_EDITS  # noqa: E402

PHOTOS = REPO.parent / "shared" / "photos"
GROCERY = REPO.parent / "shared" / "multiview" / "grocery"


def old_module():
    """The layout module of the last commit (the implementation before this work)."""
    source = subprocess.run(["git", "show", "HEAD:imgfinder/core/layout.py"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("layout_head", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules["layout_head"] = module
    exec(compile(source, "HEAD:imgfinder/core/layout.py", "exec"), module.__dict__)
    return module


def signature(img: Image.Image) -> np.ndarray:
    """As the decoder makes it: the model's square input, then the layout signature."""
    return new.layout_signature(np.asarray(img.convert("RGB").resize((160, 160), Image.Resampling.BILINEAR)))


def build(n_grocery: int) -> tuple[list[np.ndarray], list[str], list[str], list[np.ndarray]]:
    """(signatures, family of each, edit of each) of the copies set, and grocery signatures."""
    from quality import MAX_SIDE, two_shots

    sigs, families, edits = [], [], []
    for photo in sorted(PHOTOS.glob("*.jpg")):
        with Image.open(photo) as img:
            img = img.convert("RGB")
            img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            for side, original in two_shots(img).items():
                for name, edit in [("original", None), *BENCHMARK_EDITS.items()]:
                    sigs.append(signature(original if edit is None else edit(original)))
                    families.append(f"{photo.stem}#{side}")
                    edits.append(name)
    grocery = []
    files = sorted(GROCERY.rglob("*.jpg"))
    for path in files[:: max(1, len(files) // max(1, n_grocery))][:n_grocery]:
        with Image.open(path) as img:
            img.draft("RGB", (320, 320))
            grocery.append(signature(img))
    return sigs, families, edits, grocery


def timed(fn, pairs, layouts) -> tuple[float, list]:
    out = []
    started = time.process_time()
    for i, j in pairs:
        out.append(fn(layouts[i], layouts[j]))
    return (time.process_time() - started) / max(1, len(pairs)) * 1000, out


def opencv_coarse(a, b) -> float:
    """Best NCC of the coarse search with cv2.matchTemplate (the same 8 x 8 x 2 searches)."""
    import cv2

    best = -1.0
    for m in layout_search._sizes(new.COARSE):
        for big, small in ((a, b), (b, a)):
            picture = big.coarse.picture
            template = image_ops._resize(small.coarse.picture, m)
            for k in range(8):
                result = cv2.matchTemplate(picture, new._dihedral(template, k), cv2.TM_CCOEFF_NORMED)
                best = max(best, float(result.max()))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=300, help="pairs timed for old and new match")
    ap.add_argument("--grocery", type=int, default=120, help="grocery shots for the filter's negatives")
    args = ap.parse_args()
    old = old_module()
    sigs, families, edits, grocery = build(args.grocery)
    print(f"{len(sigs)} copies-set layouts ({len(set(families))} originals x 18), {len(grocery)} grocery shots")
    rng = np.random.default_rng(0)
    originals = {f: n for n, (f, e) in enumerate(zip(families, edits)) if e == "original"}
    copy_pairs = [(originals[f], n) for n, (f, e) in enumerate(zip(families, edits)) if e != "original"]
    other_shot = [(originals[f], originals[f[:-1] + "R"]) for f in originals if f.endswith("#L")]
    random_pairs = []
    while len(random_pairs) < 400:
        i, j = rng.integers(len(sigs), size=2)
        if families[i] != families[j]:
            random_pairs.append((int(i), int(j)))
    g0 = len(sigs)
    grocery_pairs = [(g0 + i, g0 + j) for i in range(len(grocery)) for j in range(i + 1, len(grocery))]
    all_sigs = sigs + grocery
    new_layouts = [new.Layout(s) for s in all_sigs]
    old_layouts = [old.Layout(s) for s in all_sigs]
    for lay in new_layouts:  # per-photo work, done once per photo in a grouping
        lay.thumb, lay.coarse, lay.smooth64, lay.full64, lay.integrals, lay.flat

    # 1. match: old vs new on the same mix of copies and different pictures.
    mix = [copy_pairs[i] for i in rng.permutation(len(copy_pairs))[: args.pairs // 2]]
    mix += [random_pairs[i] for i in range(args.pairs - len(mix) - len(other_shot))] + other_shot
    ms_old, res_old = timed(old.match, mix, old_layouts)
    ms_new, res_new = timed(new.match, mix, new_layouts)

    def same(m) -> bool:
        return m.score >= new.SAME_PICTURE_MIN and m.coarse >= new.SAME_LAYOUT_MIN

    differ = sum(same(x) != same(y) for x, y in zip(res_old, res_new))
    delta = max(max(abs(x.score - y.score), abs(x.coarse - y.coarse)) for x, y in zip(res_old, res_new))
    print(f"\nmatch, {len(mix)} pairs (CPU time): old {ms_old:.2f} ms/pair, new {ms_new:.2f} ms/pair "
          f"({ms_old / ms_new:.1f}x); decisions differing: {differ}; largest score difference {delta:.1e}")

    # 2. The cheap filter.
    ms_filter, copy_scores = timed(new.plausible_score, copy_pairs, new_layouts)
    _, other_scores = timed(new.plausible_score, other_shot, new_layouts)
    _, random_scores = timed(new.plausible_score, random_pairs, new_layouts)
    _, grocery_scores = timed(new.plausible_score, grocery_pairs, new_layouts)
    lowest = min(copy_scores)
    worst = copy_pairs[int(np.argmin(copy_scores))]
    passed = sum(s >= new.FILTER_MIN for s in copy_scores)
    print(f"\ncheap filter: {ms_filter:.3f} ms/pair; copies passing {passed}/{len(copy_pairs)} "
          f"(lowest score {lowest:.3f}: {families[worst[1]]} {edits[worst[1]]}; threshold {new.FILTER_MIN})")
    for name, scores in (("other shot of the same photo", other_scores), ("random different originals", random_scores),
                         ("grocery: other shots, other products", grocery_scores)):
        s = np.array(scores)
        print(f"  rejects {np.mean(s < new.FILTER_MIN):6.1%} of {len(s)} pairs: {name}")
    by_edit: dict[str, float] = {}
    for (i, j), s in zip(copy_pairs, copy_scores):
        by_edit[edits[j]] = min(by_edit.get(edits[j], 1.0), s)
    print("  lowest copy score per edit: " + ", ".join(f"{e} {v:.2f}" for e, v in sorted(by_edit.items(), key=lambda kv: kv[1])))

    # 3. OpenCV's matchTemplate for the coarse search.
    sample = mix[:100]
    started = time.process_time()
    ours = [new._coarse_hypotheses(new_layouts[i], new_layouts[j])[0][0] for i, j in sample]
    ms_ours = (time.process_time() - started) / len(sample) * 1000
    try:
        import cv2  # noqa: F401
    except ImportError:
        print("\nOpenCV: skipped (opencv-python-headless is not installed)")
        return 0
    started = time.process_time()
    theirs = [opencv_coarse(new_layouts[i], new_layouts[j]) for i, j in sample]
    ms_cv = (time.process_time() - started) / len(sample) * 1000
    gap = max(abs(x - y) for x, y in zip(ours, theirs))
    print(f"\ncoarse search, {len(sample)} pairs: ours (batched matrix products) {ms_ours:.3f} ms/pair, "
          f"cv2.matchTemplate {ms_cv:.3f} ms/pair; largest difference of the best NCC {gap:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
