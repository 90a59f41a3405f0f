"""Fitting the copy head on the views: the closed-form Siamese head that ships, the
gradient-trained one it replaced (kept for comparison), and the reports of a fit (pair
scores, the loss curve)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .training_views import ViewSet


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
