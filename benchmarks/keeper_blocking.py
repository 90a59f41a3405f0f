"""Where ``keeper.INHERITED`` comes from: the pixel blocking (``jpeg_quality.blockiness``)
of JPEG re-saves against that of the file they were saved from.

    python benchmarks/keeper_blocking.py [--folder DIR] [--limit N]

Per photo of ``--folder`` (default ``../shared/photos``; the rule was chosen there, so
check it on another folder), at most 1600 px:

* re-saves: the photo saved at quality 60, 75 and 85 (the "original"), then mirrored,
  turned 90 degrees and brightened 10 %, each saved at quality 90 (finer tables than the
  original's): the ratio copy / original of their blocking (a re-save keeps it: near 1);
* coarse copies: the photo saved at quality 95, then saved again at 60 and at 30: the
  ratio original / copy (a genuinely finer original has less blocking: well below 1).

Prints both distributions and how many pairs the shipped rule (ratio >= INHERITED, the
coarser file blocky at least MIN_BLOCKING) calls "re-saved".
"""

from __future__ import annotations

import argparse
import io
import os
import sys

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from imgfinder.core.jpeg_quality import blockiness  # noqa: E402
from imgfinder.core.keeper import INHERITED, MIN_BLOCKING  # noqa: E402

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")


def _jpeg(img: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _b(img: Image.Image) -> float:
    return blockiness(np.asarray(img.convert("L")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", default=os.path.join(SHARED, "photos"))
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    names = sorted(n for n in os.listdir(args.folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    names = names[: args.limit] if args.limit else names
    resaved: list[tuple[float, float]] = []  # (ratio, coarser file's blocking)
    coarse: list[tuple[float, float]] = []
    for name in names:
        src = Image.open(os.path.join(args.folder, name)).convert("RGB")
        src.thumbnail((1600, 1600))
        for q in (60, 75, 85):
            o = _jpeg(src, q)
            bo = _b(o)
            for edit in (ImageOps.mirror, lambda im: im.rotate(90, expand=True),
                         lambda im: ImageEnhance.Brightness(im).enhance(1.1)):
                resaved.append((_b(_jpeg(edit(o), 90)) / max(bo, 1e-6), bo))
        o = _jpeg(src, 95)
        bo = _b(o)
        for q in (60, 30):
            bc = _b(_jpeg(o, q))
            coarse.append((bo / max(bc, 1e-6), bc))

    def show(label: str, pairs: list[tuple[float, float]]) -> None:
        r = np.array([p[0] for p in pairs])
        called = sum(1 for ratio, b in pairs if ratio >= INHERITED and b >= MIN_BLOCKING)
        pct = " ".join(f"{v:.2f}" for v in np.percentile(r, [0, 5, 50, 95, 100]))
        print(f"{label:<34} {len(pairs):>5}  ratio 0/5/50/95/100 %: {pct}   called re-saved: {called}")

    print(f"{len(names)} photos of {args.folder}; INHERITED = {INHERITED}, MIN_BLOCKING = {MIN_BLOCKING}")
    show("re-saves (copy / original)", resaved)
    show("coarse copies (original / copy)", coarse)


if __name__ == "__main__":
    main()
