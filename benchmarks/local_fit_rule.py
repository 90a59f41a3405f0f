"""Where the copy-proof thresholds come from (``imgfinder/core/copy_proof.py``).

Prints, per kind of pair, the distribution of what the proof measures (inliers, median
reprojection error, share of matches within 1 px, block agreement, coverage) and how
many pairs the shipped rule calls copies:

* ``edit:<kind>``: an original and one edited copy of it (19 edits);
* ``other-shot``: two different shots of one product (hand-held, ``shared/multiview``);
* ``mirror-other``: a shot against the mirror of another shot of the same product;
* ``halves``: the left and right 55 % of one photo (10 % overlap);
* ``corners``: the top-left and bottom-right 65 % crops of one photo;
* ``moved``: one photo and itself with a subject-sized patch moved (a burst);
* ``people-moved``: two shots of a synthetic street scene from one tripod a second
  apart, people moved a little, new sensor noise (``tests/burst_scenes.py``).

The rule was chosen on ``--fit`` sets (``shared/photos`` and ``shared/multiview``) and
is only *checked* on ``--check`` (``shared/heldout``: views around one sculpture and
photos of other kinds), never tuned there.

    python benchmarks/local_fit_rule.py            # both, ~5 minutes on 2 cores
    python benchmarks/local_fit_rule.py --per-product 1 --json out.json
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import random
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from imgfinder.core import copy_proof  # noqa: E402
from imgfinder.core.keypoints import extract  # noqa: E402

SHARED = os.environ.get("IMGFINDER_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))


def _jpeg(img: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _crop(img: Image.Image, f: float, cx: float = 0.5, cy: float = 0.5) -> Image.Image:
    w, h = img.size
    cw, ch = int(w * f), int(h * f)
    x, y = int((w - cw) * cx), int((h - ch) * cy)
    return img.crop((x, y, x + cw, y + ch))


def _watermark(img: Image.Image) -> Image.Image:
    out = img.copy()
    d = ImageDraw.Draw(out)
    w, h = out.size
    d.text((int(w * 0.05), int(h * 0.85)), "(c) imgfinder 2026", fill=(255, 255, 255))
    d.rectangle((int(w * 0.7), int(h * 0.05), int(w * 0.9), int(h * 0.1)), fill=(240, 240, 240))
    return out


def _letterbox(img: Image.Image) -> Image.Image:
    w, h = img.size
    nh = int(w * 9 / 16) if w / h < 16 / 9 else h
    nw = int(h * 16 / 9) if w / h >= 16 / 9 else w
    out = Image.new("RGB", (max(w, nw), max(h, nh) if w / h >= 16 / 9 else h), (0, 0, 0))
    if w / h < 16 / 9:  # pillarbox to 16:9 keeps the height
        out = Image.new("RGB", (int(h * 16 / 9), h), (0, 0, 0))
    out.paste(img, ((out.size[0] - w) // 2, (out.size[1] - h) // 2))
    return out


def _rotate_small(img: Image.Image) -> Image.Image:
    return _crop(img.rotate(3, resample=Image.Resampling.BICUBIC, expand=False), 0.9)


EDITS = {
    "resize50": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "jpeg30": lambda im: _jpeg(im, 30),
    "upscale_q60": lambda im: _jpeg(im.resize((int(im.width * 1.5), int(im.height * 1.5)), Image.Resampling.BICUBIC), 60),
    "crop80": lambda im: _crop(im, 0.8),
    "crop60_off": lambda im: _crop(im, 0.6, 0.2, 0.7),
    "mirror": ImageOps.mirror,
    "rot90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "rot180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
    "rot270": lambda im: im.transpose(Image.Transpose.ROTATE_270),
    "grey": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "bright+30": lambda im: im.point(lambda v: min(255, v + 30)),
    "bright-30": lambda im: im.point(lambda v: max(0, v - 30)),
    "contrast": lambda im: ImageOps.autocontrast(im, cutoff=5),
    "blur2": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
    "watermark": _watermark,
    "pad10": lambda im: ImageOps.expand(im, border=max(4, im.width // 10), fill=(255, 255, 255)),
    "letterbox": _letterbox,
    "png": lambda im: im,
    "rot3_crop": _rotate_small,
}


def _moved(img: Image.Image, rng: random.Random) -> Image.Image:
    """The subject moved: a patch of a fifth of the picture's side cut and pasted shifted."""
    w, h = img.size
    pw, ph = w // 4, h // 4
    x, y = rng.randint(w // 4, w // 2), rng.randint(h // 4, h // 2)
    out = img.copy()
    patch = img.crop((x, y, x + pw, y + ph))
    out.paste(patch, (x + pw // 2, y + ph // 3))
    return out


def _products(root: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = collections.defaultdict(list)
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if n.lower().endswith((".jpg", ".jpeg", ".png")):
                found[dirpath].append(os.path.join(dirpath, n))
    return {k: v for k, v in found.items() if v}


def _load(path: str, side: int = 1400) -> Image.Image:
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    return img


class Features:
    """Extract through the real decoder: every picture is saved to a file first."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.n = 0
        self.seconds = 0.0

    def of(self, img: Image.Image, png: bool = False):
        self.n += 1
        path = os.path.join(self.tmp, f"{self.n}.{'png' if png else 'jpg'}")
        img.save(path, quality=92) if not png else img.save(path)
        t = time.perf_counter()
        f = extract(path)
        self.seconds += time.perf_counter() - t
        os.unlink(path)
        return f


def _collect(pairs_out: dict, kind: str, pa, pb) -> None:
    t = time.perf_counter()
    p = copy_proof.prove(pa, pb, diagnose=True)
    pairs_out.setdefault(kind, []).append((p, time.perf_counter() - t))
    RAW.append({"kind": kind, **p.summary()})


RAW: list[dict] = []  # every pair's measurements, for --raw


def bursts(feats: Features, n: int) -> dict:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from burst_scenes import MOVED, scene

    out: dict = {}
    for k in range(n):
        a = feats.of(scene(100 + k, noise=1))
        _collect(out, "people-moved", a, feats.of(scene(100 + k, MOVED, noise=2, shift=(k % 6, k % 4))))
    return out


def build(groups: list[list[str]], feats: Features, rng: random.Random, per_group: int, shots: int) -> dict:
    out: dict = {}
    for paths in groups:
        chosen = rng.sample(paths, min(per_group, len(paths)))
        for path in chosen:
            img = _load(path)
            fo = feats.of(img)
            for name, edit in EDITS.items():
                _collect(out, f"edit:{name}", fo, feats.of(edit(img), png=name == "png"))
            w, h = img.size
            left, right = img.crop((0, 0, int(w * 0.55), h)), img.crop((int(w * 0.45), 0, w, h))
            _collect(out, "halves", feats.of(left), feats.of(right))
            tl, br = _crop(img, 0.65, 0, 0), _crop(img, 0.65, 1, 1)
            _collect(out, "corners", feats.of(tl), feats.of(br))
            _collect(out, "moved", fo, feats.of(_moved(img, rng)))
        others = [p for p in paths if p not in chosen]
        for _ in range(min(shots, len(paths) * (len(paths) - 1) // 2)):
            x, y = rng.sample(paths, 2)
            ix, iy = _load(x), _load(y)
            fx = feats.of(ix)
            _collect(out, "other-shot", fx, feats.of(iy))
            _collect(out, "mirror-other", fx, feats.of(ImageOps.mirror(iy)))
        del others
    return out


def _q(values: list[float]) -> str:
    if not values:
        return "-"
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return "inf"
    return " ".join(f"{x:.2f}" for x in np.percentile(v, [0, 5, 50, 95, 100]))


def report(title: str, pairs: dict) -> dict:
    print(f"\n## {title}   (percentiles 0/5/50/95/100)")
    print(f"{'kind':<18}{'pairs':>6}{'copies':>8}  {'inliers':<28}{'median err px':<28}{'within 1px':<28}"
          f"{'agreement':<28}{'max cover':<24}{'ms':>6}")
    summary = {}
    for kind in sorted(pairs):
        rows = pairs[kind]
        proofs = [p for p, _ in rows]
        acc = sum(p.copies for p in proofs)
        fits = [p.fit for p in proofs if p.fit is not None]
        summary[kind] = {"pairs": len(rows), "copies": acc,
                         "ms_median": 1000 * float(np.median([s for _, s in rows]))}
        print(f"{kind:<18}{len(rows):>6}{acc:>8}  {_q([f.inliers for f in fits]):<28}"
              f"{_q([f.median_error for f in fits]):<28}{_q([f.within_one for f in fits]):<28}"
              f"{_q([p.agreement for p in proofs if p.exact_fit]):<28}"
              f"{_q([max(p.covers_a, p.covers_b) for p in proofs if p.exact_fit]):<24}"
              f"{summary[kind]['ms_median']:>6.1f}")
    pos = [k for k in pairs if k.startswith("edit:")]
    neg = [k for k in pairs if not k.startswith("edit:")]
    tp = sum(summary[k]["copies"] for k in pos)
    npos = sum(summary[k]["pairs"] for k in pos)
    fp = sum(summary[k]["copies"] for k in neg)
    nneg = sum(summary[k]["pairs"] for k in neg)
    print(f"copies accepted: {tp}/{npos} ({tp / max(1, npos):.3f});  "
          f"hard negatives accepted: {fp}/{nneg}")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-product", type=int, default=2, help="originals edited per product folder")
    ap.add_argument("--shots", type=int, default=12, help="pairs of other shots per product folder")
    ap.add_argument("--sets", default="fit,check")
    ap.add_argument("--json")
    ap.add_argument("--raw", help="write every pair's measurements here (JSON lines)")
    ap.add_argument("--max-keypoints", type=int, default=None, help="try another keypoints.MAX_KEYPOINTS")
    ap.add_argument("--work-side", type=int, default=None,
                    help="try another working scale (keypoints.WORK_AREA = side x side; default: as shipped)")
    args = ap.parse_args()
    from imgfinder.core import keypoints

    if args.max_keypoints:
        keypoints.MAX_KEYPOINTS = args.max_keypoints
        keypoints._DETECTORS.__dict__.clear()  # made anew with the new MAX_KEYPOINTS
    if args.work_side:
        keypoints.WORK_AREA = args.work_side * args.work_side
        keypoints.DECODE_MIN_SIDE = min(keypoints.DECODE_MIN_SIDE, int(args.work_side * 0.75))
    rng = random.Random(20)
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        feats = Features(tmp)
        t0 = time.perf_counter()
        if "fit" in args.sets:
            photos = sorted(_products(os.path.join(SHARED, "photos")).values(), key=lambda v: v[0])
            photo_groups = [[p] for ps in photos for p in ps]
            mv = sorted(_products(os.path.join(SHARED, "multiview")).values(), key=lambda v: v[0])
            pairs = build(photo_groups, feats, rng, 1, 0)
            for k, v in build(mv, feats, rng, args.per_product, args.shots).items():
                pairs.setdefault(k, []).extend(v)
            for k, v in bursts(feats, 20).items():
                pairs.setdefault(k, []).extend(v)
            result["fit"] = report("fit: shared/photos + shared/multiview + synthetic bursts", pairs)
        if "check" in args.sets:
            held = sorted(_products(os.path.join(SHARED, "heldout")).values(), key=lambda v: v[0])
            pairs = build(held, feats, rng, 4, 60)
            result["check"] = report("check (never fitted): shared/heldout", pairs)
        print(f"\n{feats.n} feature extractions, {1000 * feats.seconds / max(1, feats.n):.0f} ms each; "
              f"{time.perf_counter() - t0:.0f} s in all")
    if args.raw:
        with open(args.raw, "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in RAW)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
