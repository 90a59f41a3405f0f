"""Cross-validated quality of the Siamese head: train on some photos, measure on the others.

    python benchmarks/quality_cv.py [--photos DIR] [--folds 2] [--steps 800]

Splits the photos into folds, trains a head on all folds but one with the repo's training
command (``python -m imgfinder.model.train``), then runs ``benchmarks/quality.py`` on the
held-out fold with that head and with the bare backbone, at several thresholds. This is
how a head is judged on photos it has not seen before it may become the default.
Writes ``benchmarks/out/quality_cv.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from imgfinder.core.decoder import PREPROCESSING_ID  # noqa: E402
from imgfinder.core.scanner import scan  # noqa: E402
from imgfinder.model.copy_projection import DIM, GREY_WEIGHT, REGULARISATION, RELIT_WEIGHT  # noqa: E402
from imgfinder.model.train import TrainConfig  # noqa: E402


def _source_digest() -> str:
    """Digest of the code that decides copies (grouping, layout, kinds, duplicates)."""
    h = hashlib.sha1()
    for name in ("duplicates", "grouping", "layout", "group_kind", "decoder", "knn"):
        h.update((REPO / "imgfinder" / "core" / f"{name}.py").read_bytes())
    return h.hexdigest()


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared" / "photos")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=TrainConfig.steps, help="as the shipped head (default)")
    parser.add_argument("--hidden", type=int, default=0, help="head hidden units (0: linear)")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.85, 0.9])
    parser.add_argument("--groups", type=Path, default=REPO.parent / "shared" / "multiview" / "grocery_groups.csv",
                        help="multi-view photos the head also trains on (as the shipped head does); 'none' for none")
    parser.add_argument("--group-fold", default="even", help="which products of --groups (as the shipped head)")
    parser.add_argument("--no-backbone", action="store_true", help="skip the bare-backbone comparison runs")
    parser.add_argument("--work", type=Path, default=REPO / ".bench-data" / "quality-cv")
    args = parser.parse_args()

    photos = sorted(Path(f.path) for f in scan([args.photos]))
    folds = [photos[i :: args.folds] for i in range(args.folds)]
    # Heads, catalogs and results are kept per training setting and code version, so a run
    # after the head's recipe, the model input or the grouping changed never reuses them.
    recipe = json.dumps([args.steps, args.hidden, args.lr, str(args.groups), args.group_fold, PREPROCESSING_ID,
                         DIM, REGULARISATION, GREY_WEIGHT, RELIT_WEIGHT, _source_digest()])
    args.work = args.work / hashlib.sha1(recipe.encode()).hexdigest()[:10]
    results = []
    for k, held_out in enumerate(folds):
        train_dir, test_dir = args.work / f"fold{k}" / "train", args.work / f"fold{k}" / f"test{k}"
        for folder, members in ((train_dir, [p for p in photos if p not in held_out]), (test_dir, held_out)):
            folder.mkdir(parents=True, exist_ok=True)
            for p in members:
                link = folder / p.name
                if not link.exists():
                    os.symlink(p.resolve(), link)
        head = args.work / f"fold{k}" / "head.npz"
        if not head.exists():
            groups = [] if str(args.groups) == "none" else ["--groups", str(args.groups), "--fold", args.group_fold]
            run([sys.executable, "-m", "imgfinder.model.train", "--photos", str(train_dir), "--out", str(head),
                 "--whitening-out", str(head.with_name("whitening.npz")),
                 "--steps", str(args.steps), "--hidden", str(args.hidden), "--lr", str(args.lr), *groups])
        models = (("head", str(head)),) if args.no_backbone else (("head", str(head)), ("backbone", "none"))
        for label, head_arg in models:
            for t in args.thresholds:
                out = args.work / f"fold{k}" / f"{label}-{t}.json"
                if not out.exists():
                    run([sys.executable, "benchmarks/quality.py", "--photos", str(test_dir), "--head", head_arg,
                         "--threshold", str(t), "--no-semantic", "--out", str(out), "--work", str(args.work / "sets")])
                r = json.loads(out.read_text())
                c = r["cnn"]
                worst = min(c["per_edit"].items(), key=lambda kv: kv[1]["recall"])
                results.append({
                    "fold": k, "model": label, "threshold": t, "precision": c["precision"], "recall": c["recall"],
                    "worst_edit": worst[0], "worst_edit_recall": worst[1]["recall"],
                    "mixed_groups": c["groups_mixing_originals"],
                    "rotation_recall": min(c["per_edit"][e]["recall"] for e in ("rot90", "rot180", "rot270")),
                })
    out = REPO / "benchmarks" / "out" / "quality_cv.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print("| fold | model | threshold | precision | recall | worst edit | rotations | groups mixing originals |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['fold']} | {r['model']} | {r['threshold']} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{r['worst_edit']} {r['worst_edit_recall']:.2f} | {r['rotation_recall']:.2f} | {r['mixed_groups']} |")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
