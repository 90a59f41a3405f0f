"""Train (or fine-tune) the Siamese projection head on any folder of photos.

    python -m imgfinder.model.train --photos ../shared/photos \
        --groups ../shared/multiview/grocery_groups.csv --fold even

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
the same photos, seed and options give the same weights.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from imgfinder.core.decoder import PREPROCESSING_ID, open_image, square_pixels
from imgfinder.core.scanner import scan
from imgfinder.model.edits import brightness, greyscale, random_edit_chain, rescale
from imgfinder.shipped import HEAD_FILE, WHITENING_FILE

# Training is a developer action run from the repository root: by default it replaces the
# files in resources/ that the package ships (a wheel built afterwards carries them).
REPO_RESOURCES = Path("resources")
WORK_SIDE = 1280  # sources are cut from a copy this large: fast, and more than the model sees
SOURCE_AREA = (0.12, 0.45)  # area fraction of a photo that one window source covers
MAX_NEGATIVE_OVERLAP = 0.05  # windows sharing less than this much are different pictures


@dataclass(frozen=True)
class Window:
    """A part of a photo used as its own training source: (left, top, right, bottom) in [0, 1]."""

    box: tuple[float, float, float, float]

    @property
    def area(self) -> float:
        l, t, r, b = self.box
        return (r - l) * (b - t)

    def overlap(self, other: Window) -> float:
        """Shared area as a fraction of the smaller window."""
        l = max(self.box[0], other.box[0])
        t = max(self.box[1], other.box[1])
        r = min(self.box[2], other.box[2])
        b = min(self.box[3], other.box[3])
        inter = max(0.0, r - l) * max(0.0, b - t)
        return inter / max(1e-9, min(self.area, other.area))

    def cut(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        l, t, r, b = self.box
        return img.crop((round(l * w), round(t * h), round(r * w), round(b * h)))


FULL = Window((0.0, 0.0, 1.0, 1.0))


def windows_for(rng: random.Random, count: int) -> list[Window]:
    """The whole frame plus ``count`` random windows, as a photographer's other shots of a scene."""
    out = [FULL]
    for _ in range(count):
        area = rng.uniform(*SOURCE_AREA)
        aspect = rng.uniform(0.6, 1.6)
        w = min(1.0, (area * aspect) ** 0.5)
        h = min(1.0, area / w)
        l = rng.uniform(0, 1 - w)
        t = rng.uniform(0, 1 - h)
        out.append(Window((l, t, l + w, t + h)))
    return out


@dataclass
class ViewSet:
    """Backbone features of the training views, with their sources."""

    features: np.ndarray  # (V, 1280) float32
    source: np.ndarray  # (V,) int: source id
    photo: np.ndarray  # (V,) int: photo id
    boxes: np.ndarray  # (V, 4) float: the source window of each view
    photo_names: list[str]

    def negative_mask(self, rows: np.ndarray) -> np.ndarray:
        """For rows of a batch: may (i, j) be used as a negative pair?

        Views of different photos always; views of two windows of one photo only when
        the windows barely overlap (the hard negatives). The whole frame against one of
        its windows is neither positive nor negative: a big crop is a duplicate, a small
        one is not, and the boundary is not for the training data to decide.
        """
        photo, boxes = self.photo[rows], self.boxes[rows]
        l = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
        t = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
        r = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
        b = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
        inter = np.clip(r - l, 0, None) * np.clip(b - t, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        overlap = inter / np.maximum(np.minimum(area[:, None], area[None, :]), 1e-9)
        same_photo = photo[:, None] == photo[None, :]
        return ~same_photo | (overlap < MAX_NEGATIVE_OVERLAP)


def pixels_like_the_app(img: Image.Image, size: int) -> np.ndarray:
    """Encode a view as a JPEG and decode it the way the indexer does (draft + squash)."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=95)
    decoded, _, _ = open_image(buf.getvalue(), min_side=size)
    return square_pixels(decoded, size)


def load_photo(path: str) -> Image.Image:
    img, _, _ = open_image(Path(path).read_bytes(), min_side=WORK_SIDE)
    img = img.convert("RGB")
    return rescale(img, WORK_SIDE / max(img.size)) if max(img.size) > WORK_SIDE else img


def make_views(
    photos: list[str], windows: int | list[int], views_per_source: int, seed: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of every training view: (V, size, size, 3) plus source, photo and window box.

    ``windows`` is the number of window sources per photo, or one number per photo."""
    pixels, source, photo, boxes = [], [], [], []
    n_sources = 0
    per_photo = windows if isinstance(windows, list) else [windows] * len(photos)
    for p_index, (path, n_windows) in enumerate(zip(photos, per_photo)):
        img = load_photo(path)
        rng = random.Random(f"{seed}:{os.path.basename(path)}")
        for window in windows_for(rng, n_windows):
            src = window.cut(img)
            for v in range(views_per_source):
                view = src if v == 0 else random_edit_chain(src, rng)
                pixels.append(pixels_like_the_app(view, size))
                source.append(n_sources)
                photo.append(p_index)
                boxes.append(window.box)
            n_sources += 1
    return np.stack(pixels), np.array(source), np.array(photo), np.array(boxes, dtype=np.float32)


def backbone_features(pixels: np.ndarray) -> np.ndarray:
    """The 1280-d features before any head, computed by the app's own embedder."""
    from imgfinder.model.keras_embedder import KerasEmbedder

    return KerasEmbedder(batch_size=64).features(pixels)


def model_input_size() -> int:
    from imgfinder.model.keras_embedder import KerasEmbedder

    return KerasEmbedder().input_size


def _photo_cache_key(path: str, windows: int, views_per_source: int, seed: int, size: int) -> str:
    key = hashlib.sha256()
    key.update(Path(path).name.encode())
    key.update(hashlib.blake2b(Path(path).read_bytes(), digest_size=16).digest())
    key.update(f"{windows}:{views_per_source}:{seed}:{size}:{WORK_SIDE}:{SOURCE_AREA}:rot4:{PREPROCESSING_ID}:v4".encode())
    return key.hexdigest()[:20]


def build_view_set(
    photos: list[str], windows: int | list[int], views_per_source: int, seed: int, cache_dir: Path | None,
    size: int | None = None,
) -> ViewSet:
    """Views of every photo with their backbone features, cached per photo.

    A photo's views depend only on the photo, its window count, the seed and the size (the
    random generator is seeded per photo), so a cache per photo lets every subset of a
    collection (the folds of a cross-validation) reuse the features already computed.
    """
    size = size or model_input_size()
    per_photo = windows if isinstance(windows, list) else [windows] * len(photos)
    names = [Path(p).name for p in photos]
    parts: dict[int, dict[str, np.ndarray]] = {}
    missing: list[int] = []
    for n, (path, w) in enumerate(zip(photos, per_photo)):
        cache = cache_dir / f"photo-{_photo_cache_key(path, w, views_per_source, seed, size)}.npz" if cache_dir else None
        if cache is not None and cache.exists():
            with np.load(cache) as z:
                parts[n] = {k: z[k] for k in ("features", "source", "boxes")}
        else:
            missing.append(n)
    if missing:
        started = time.monotonic()
        pixels, source, photo, boxes = make_views(
            [photos[n] for n in missing], [per_photo[n] for n in missing], views_per_source, seed, size)
        print(f"made {len(pixels)} views of {len(missing)} photos in {time.monotonic() - started:.0f}s", file=sys.stderr)
        started = time.monotonic()
        features = backbone_features(pixels)
        print(f"backbone features in {time.monotonic() - started:.0f}s", file=sys.stderr)
        for k, n in enumerate(missing):
            rows = photo == k
            part = {"features": features[rows], "source": source[rows] - source[rows].min(), "boxes": boxes[rows]}
            parts[n] = part
            if cache_dir is not None:
                cache_dir.mkdir(parents=True, exist_ok=True)
                key = _photo_cache_key(photos[n], per_photo[n], views_per_source, seed, size)
                np.savez(cache_dir / f"photo-{key}.npz", **part)
    features_l, source_l, photo_l, boxes_l = [], [], [], []
    offset = 0
    for n in range(len(photos)):
        part = parts[n]
        features_l.append(part["features"])
        source_l.append(part["source"] + offset)
        photo_l.append(np.full(len(part["source"]), n))
        boxes_l.append(part["boxes"])
        offset += int(part["source"].max()) + 1
    return ViewSet(np.concatenate(features_l), np.concatenate(source_l), np.concatenate(photo_l),
                   np.concatenate(boxes_l), names)


def nuisance_differences(
    photos: list[str], seed: int, cache_dir: Path | None, size: int | None = None,
) -> dict[str, np.ndarray]:
    """(edited - plain) backbone descriptors of every photo made greyscale ("grey") and
    brightened or darkened by a random factor of 0.6-1.45 ("relit"), each decoded the
    way the app decodes photos; cached per photo like the views."""
    size = size or model_input_size()
    out: dict[str, list[np.ndarray]] = {"grey": [], "relit": []}
    missing: list[int] = []
    found: dict[int, dict[str, np.ndarray]] = {}

    def cache_file(path: str) -> Path | None:
        return cache_dir / f"nuisance-{_photo_cache_key(path, 0, 3, seed, size)}.npz" if cache_dir else None

    for n, path in enumerate(photos):
        cache = cache_file(path)
        if cache is not None and cache.exists():
            with np.load(cache) as z:
                found[n] = {k: z[k] for k in out}
        else:
            missing.append(n)
    if missing:
        pixels = []
        for n in missing:
            img = load_photo(photos[n])
            rng = random.Random(f"{seed}:nuisance:{os.path.basename(photos[n])}")
            for view in (img, greyscale(img), brightness(img, rng.uniform(0.6, 1.45))):
                pixels.append(pixels_like_the_app(view, size))
        features = backbone_features(np.stack(pixels)).reshape(len(missing), 3, -1)
        for k, n in enumerate(missing):
            found[n] = {"grey": features[k, 1] - features[k, 0], "relit": features[k, 2] - features[k, 0]}
            cache = cache_file(photos[n])
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cache, **found[n])
    for n in range(len(photos)):
        for k in out:
            out[k].append(found[n][k])
    return {k: np.stack(v) for k, v in out.items()}


def fit_closed_form_head(views: ViewSet, nuisances: dict[str, np.ndarray], path: Path) -> None:
    """The copy head in closed form (``copy_projection``), written as a head ``.npz``."""
    from imgfinder.model.copy_projection import GREY_WEIGHT, RELIT_WEIGHT, fit_copy_projection

    kernel, bias = fit_copy_projection(
        views.features, views.source, [(nuisances["grey"], GREY_WEIGHT), (nuisances["relit"], RELIT_WEIGHT)],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, kernel_0=kernel, bias_0=bias)


@dataclass
class TrainConfig:
    steps: int = 0  # Siamese fine-tuning steps after the closed-form fit (0: the closed form)
    photos_per_batch: int = 48
    views_per_row: int = 2
    sources_per_photo: int = 4
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4
    margin: float = 1.0
    triplet_weight: float = 0.5
    # Keeps unrelated photos at least as far apart as the backbone had them: the head may
    # only pull a negative pair closer than its backbone cosine by this much.
    spread_weight: float = 4.0
    spread_slack: float = 0.05
    centre: bool = True
    hidden: int = 0  # linear: generalised best to held-out photos (benchmarks/quality_cv.py)
    out_dim: int = 64  # as copy_projection.DIM: fine-tuning starts from the closed form
    dropout: float = 0.2
    seed: int = 1234


def train_head(views: ViewSet, config: TrainConfig, init_head: Path | None = None, log_every: int = 50):
    """Train the shared head; returns (keras head, loss curve [(step, loss)])."""
    import tensorflow as tf

    from imgfinder.model.siamese import batch_loss, build_head, principal_axes, spread_loss

    tf.keras.utils.set_random_seed(config.seed)
    init_kernel = None if config.hidden else principal_axes(views.features, config.out_dim)
    head = build_head(
        views.features.shape[1], config.hidden, config.out_dim, seed=config.seed, dropout=config.dropout,
        init_kernel=init_kernel,
    )
    if init_kernel is not None and config.centre:
        # Start from *centred* features: the backbone's features are all positive, so any two
        # photos share a large common component (unrelated pairs at cosine ~0.66); a bias of
        # -mean @ kernel removes it, and the head starts from a spread-out space.
        last = head.get_layer("head_dense_0")
        kernel, _ = last.get_weights()
        last.set_weights([kernel, -(views.features.mean(axis=0) @ kernel).astype(np.float32)])
    if init_head is not None:
        from imgfinder.model.keras_embedder import load_head

        layers = load_head(init_head)
        dense = [l for l in head.layers if l.name.startswith("head_dense_")]
        if len(layers) != len(dense) or any(l.get_weights()[0].shape != k.shape for l, (k, _) in zip(dense, layers)):
            raise ValueError(f"{init_head} does not match the head's shape; cannot fine-tune from it")
        for layer, (k, b) in zip(dense, layers):
            layer.set_weights([k, b])
    optimizer = tf.keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    by_source: dict[int, np.ndarray] = {int(s): np.flatnonzero(views.source == s) for s in np.unique(views.source)}
    sources_of: dict[int, np.ndarray] = {
        int(p): np.unique(views.source[views.photo == p]) for p in np.unique(views.photo)
    }
    photos = np.unique(views.photo)
    features = tf.constant(views.features)
    unit = tf.math.l2_normalize(features, axis=-1)

    @tf.function
    def step(rows, labels, negatives):
        with tf.GradientTape() as tape:
            emb = head(tf.gather(features, rows), training=True)
            loss = batch_loss(emb, labels, negatives, config.margin, config.triplet_weight)
            if config.spread_weight:
                loss += config.spread_weight * spread_loss(emb, tf.gather(unit, rows), negatives, config.spread_slack)
        grads = tape.gradient(loss, head.trainable_variables)
        optimizer.apply_gradients(zip(grads, head.trainable_variables))
        return loss

    curve: list[tuple[int, float]] = []
    running = []
    for n in range(1, config.steps + 1):
        chosen = rng.choice(photos, size=min(config.photos_per_batch, len(photos)), replace=False)
        rows = []
        for p in chosen:
            pool = sources_of[int(p)]
            for s in rng.choice(pool, size=min(config.sources_per_photo, len(pool)), replace=False):
                rows.extend(rng.choice(by_source[int(s)], size=config.views_per_row, replace=False))
        rows = np.asarray(rows)
        loss = step(
            tf.constant(rows), tf.constant(views.source[rows]),
            tf.constant(views.negative_mask(rows).astype(np.float32)),
        )
        running.append(float(loss))
        if n % log_every == 0 or n == config.steps:
            curve.append((n, float(np.mean(running))))
            running = []
    return head, curve


def pair_report(views: ViewSet, embed) -> dict[str, float]:
    """Cosine statistics of positives, hard negatives and other negatives."""
    e = embed(views.features)
    sims = e @ e.T
    same = views.source[:, None] == views.source[None, :]
    np.fill_diagonal(same, False)
    rows = np.arange(len(views.source))
    neg = views.negative_mask(rows)
    np.fill_diagonal(neg, False)
    hard = neg & (views.photo[:, None] == views.photo[None, :])
    easy = neg & ~hard
    def stat(fn, values: np.ndarray) -> float | None:
        return float(fn(values)) if values.size else None

    return {
        "positive_p05": stat(lambda v: np.percentile(v, 5), sims[same]), "positive_min": stat(np.min, sims[same]),
        "hard_negative_max": stat(np.max, sims[hard]), "hard_negative_p99": stat(lambda v: np.percentile(v, 99), sims[hard]),
        "negative_max": stat(np.max, sims[easy]),
    }


def save_loss_curve(curve: list[tuple[int, float]], png: Path, csv: Path) -> None:
    """The loss curve as CSV and as a small PNG plot (drawn with Pillow: no plotting dependency)."""
    from PIL import ImageDraw

    csv.write_text("step,loss\n" + "".join(f"{s},{l:.6f}\n" for s, l in curve))
    w, h, m = 640, 360, 48
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    steps = [s for s, _ in curve]
    losses = [l for _, l in curve]
    lo, hi = 0.0, max(losses) * 1.05
    def xy(s: float, l: float) -> tuple[float, float]:
        return m + (s - steps[0]) / max(1, steps[-1] - steps[0]) * (w - 2 * m), h - m - (l - lo) / (hi - lo) * (h - 2 * m)
    d.rectangle((m, m, w - m, h - m), outline="black")
    d.line([xy(s, l) for s, l in curve], fill=(30, 90, 200), width=2)
    d.text((m, 12), "Siamese head training loss (contrastive + triplet)", fill="black")
    d.text((m, h - m + 8), f"step {steps[0]}", fill="black")
    d.text((w - m - 60, h - m + 8), f"step {steps[-1]}", fill="black")
    d.text((6, m - 6), f"{hi:.2f}", fill="black")
    d.text((6, h - m - 6), "0", fill="black")
    img.save(png)


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
