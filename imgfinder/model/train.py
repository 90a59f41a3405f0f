"""Train (or fine-tune) the Siamese projection head on any folder of photos.

    python -m imgfinder.model.train --photos ../shared/photos         --groups ../shared/multiview/grocery_groups.csv --fold even

Positive pairs are two randomly edited views of one *source*; negatives are views of
different sources. Each photo gives many sources: the whole frame and random windows of
it. Windows of one photo that barely overlap are the hard negatives a real library is
full of (the same scene, another part of it, like a second shot from the same spot), so
the model learns that "same place" is not "same photo". Pairs whose truth is ambiguous
(overlapping windows, the whole frame vs one of its windows) are never used.

Backbone features of every view are computed once and cached. The head is then fitted in
closed form (``model.copy_projection``: whiten how copies differ, keep how photos differ;
seconds) and, with ``--steps N``, fine-tuned from there as a Siamese network with the
contrastive + triplet + spread loss (``model.siamese``; minutes). Everything is seeded:
the same photos, seed and options give the same weights."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from imgfinder.core.scanner import scan
from imgfinder.shipped import HEAD_FILE, WHITENING_FILE

from .head_training import TrainConfig, fit_closed_form_head, pair_report, save_loss_curve, train_head
from .training_views import ViewSet, build_view_set, nuisance_differences

# The training's façade: its data (training_views) and its fitting (head_training) are
# defined beside it; the names callers use are re-exported here.
__all__ = ["TrainConfig", "ViewSet", "main", "read_groups"]


# Training is a developer action run from the repository root: by default it replaces the
# files in resources/ that the package ships (a wheel built afterwards carries them).
REPO_RESOURCES = Path("resources")


def read_groups(csv_path: Path, fold: str) -> tuple[list[str], list[str]]:
    """(photos, product labels) of one fold of a ``path,product`` CSV (paths relative to a
    folder named like the CSV without ``_groups.csv``, e.g. ``grocery_groups.csv`` ->
    ``grocery/``). Products sorted by name are split alternately: ``even`` takes the 1st,
    3rd, ... product, ``odd`` the others, ``all`` every one: the held-out products of a
    model trained on one fold are the other fold."""
    import csv

    base = csv_path.with_name(csv_path.name.replace("_groups.csv", ""))
    rows = [(str(base / r[0]), r[1]) for r in csv.reader(csv_path.open()) if len(r) == 2]
    products = sorted({p for _, p in rows})
    chosen = {p for n, p in enumerate(products) if fold == "all" or (n % 2 == 0) == (fold == "even")}
    picked = [(path, p) for path, p in rows if p in chosen]
    return [p for p, _ in picked], [l for _, l in picked]


def plain_descriptors(photos: list[str]) -> np.ndarray:
    """Descriptors of unedited photos, decoded exactly as the indexer decodes them."""
    from imgfinder.core.decoder import decode_for_model
    from imgfinder.model.keras_embedder import KerasEmbedder

    embedder = KerasEmbedder(batch_size=64)
    pixels = np.stack([decode_for_model(p, embedder.input_size).pixels for p in photos])
    return embedder.features(pixels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imgfinder.model.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, action="append", required=True, help="folder of photos (repeatable)")
    parser.add_argument("--groups", type=Path, default=None,
                        help="CSV of path,product for photos of the same things shot differently (e.g. "
                             "../shared/multiview/grocery_groups.csv): negatives for the copy head, and what "
                             "the retrieval whitening is learned from")
    parser.add_argument("--fold", choices=("even", "odd", "all"), default="even",
                        help="which products of --groups to train on (the others are held out)")
    parser.add_argument("--group-windows", type=int, default=2, help="window sources cut from each --groups photo")
    parser.add_argument("--out", type=Path, default=REPO_RESOURCES / HEAD_FILE,
                        help="where the head goes (default: the shipped one, %(default)s, from the repository root)")
    parser.add_argument("--whitening-out", type=Path, default=REPO_RESOURCES / WHITENING_FILE,
                        help="where the whitening goes (default: the shipped one, %(default)s)")
    parser.add_argument("--init", type=Path, default=None, help="fine-tune from this head instead of starting fresh")
    parser.add_argument("--windows", type=int, default=12, help="window sources cut from each photo")
    parser.add_argument("--views", type=int, default=6, help="edited views per source")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps,
                        help="Siamese fine-tuning steps after the closed-form fit (default %(default)s: the closed form)")
    parser.add_argument("--hidden", type=int, default=TrainConfig.hidden, help="hidden units (0: a linear head)")
    parser.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--margin", type=float, default=TrainConfig.margin)
    parser.add_argument("--spread", type=float, default=TrainConfig.spread_weight, help="weight of the spread term")
    parser.add_argument("--spread-slack", type=float, default=TrainConfig.spread_slack,
                        help="how much closer than the backbone a negative pair may get (negative: must get farther)")
    parser.add_argument("--no-centre", action="store_true", help="start the linear head from uncentred features")
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--cache", type=Path, default=Path(".bench-data/train-cache"))
    parser.add_argument("--validate", type=Path, default=None, help="folder of other photos to report pair statistics on")
    args = parser.parse_args(argv)
    for name in ("out", "whitening_out"):
        out = getattr(args, name)
        if out == parser.get_default(name) and not out.parent.is_dir():
            parser.error(f"no {out.parent} folder here: run from the repository root to replace the "
                         f"shipped model files, or pass --out and --whitening-out")

    photos = sorted(f.path for f in scan(args.photos))
    windows = [args.windows] * len(photos)
    group_photos: list[str] = []
    group_labels: list[str] = []
    if args.groups is not None:
        group_photos, group_labels = read_groups(args.groups, args.fold)
        photos += group_photos
        windows += [args.group_windows] * len(group_photos)
    if len(photos) < 2:
        parser.error("need at least two photos to train on")
    config = TrainConfig(steps=args.steps, seed=args.seed, hidden=args.hidden, learning_rate=args.lr,
                         margin=args.margin, spread_weight=args.spread, spread_slack=args.spread_slack,
                         centre=not args.no_centre)
    if config.hidden and not config.steps:
        parser.error("a head with a hidden layer has no closed form: give --steps")
    started = time.monotonic()
    views = build_view_set(photos, windows, args.views, args.seed, args.cache)
    init = args.init
    if init is None and not config.hidden:
        fit_closed_form_head(views, nuisance_differences(photos, args.seed, args.cache), args.out)
        init = args.out
    curve: list[tuple[int, float]] = []
    if config.steps:
        from imgfinder.model.siamese import export_head

        head, curve = train_head(views, config, init_head=init)
        export_head(head, args.out)
    elapsed = time.monotonic() - started
    from imgfinder.core.embedding import l2_normalise
    from imgfinder.model.embedder_base import apply_head, load_head

    layers = load_head(args.out)

    def embed(features: np.ndarray) -> np.ndarray:
        return l2_normalise(apply_head(layers, features))

    report = {
        "photos": [Path(p).name for p in photos],
        "groups": str(args.groups) if args.groups else None,
        "fold": args.fold if args.groups else None,
        "products": sorted(set(group_labels)),
        "views_per_source": args.views,
        "config": config.__dict__,
        "head": "closed form" + (f" + {config.steps} Siamese steps" if config.steps else "")
                if not config.hidden else f"Siamese, hidden {config.hidden}, {config.steps} steps",
        "final_loss": curve[-1][1] if curve else None,
        "seconds": round(elapsed, 1),
        "train_pairs": pair_report(views, embed),
    }
    if group_photos:
        from imgfinder.model.learned_whitening import fit_learned_whitening, save_whitening

        mean, projection = fit_learned_whitening(plain_descriptors(group_photos), np.array(group_labels))
        save_whitening(args.whitening_out, mean, projection)
        report["whitening"] = {"out": str(args.whitening_out), "dim": int(projection.shape[1]),
                               "photos": len(group_photos), "products": len(set(group_labels))}
    if args.validate:
        val_photos = sorted(f.path for f in scan([args.validate]))
        val = build_view_set(val_photos, max(2, args.windows // 3), max(4, args.views // 2), args.seed + 1, args.cache)
        report["validation_pairs"] = pair_report(val, embed)
        report["validation_pairs_backbone_only"] = pair_report(val, lambda f: f / np.linalg.norm(f, axis=1, keepdims=True))
    stem = args.out.with_suffix("")
    for stale in (Path(f"{stem}.loss.png"), Path(f"{stem}.loss.csv")):
        stale.unlink(missing_ok=True)  # a curve left from an earlier head would describe another model
    if curve:
        save_loss_curve(curve, Path(f"{stem}.loss.png"), Path(f"{stem}.loss.csv"))
    Path(f"{stem}.train.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "photos"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
