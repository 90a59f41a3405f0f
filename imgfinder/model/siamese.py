"""The Siamese network: two towers that share one encoder, trained with a contrastive loss.

Encoder = the frozen EfficientNet-Lite0 backbone (pooled 1280-d feature) followed by a
trainable projection head (Dense-ReLU-Dense) and L2 normalisation. Because the backbone
is frozen, both towers' backbone outputs are computed once per training view and
cached; training then runs the shared head on those features, which makes training
on a 2-core CPU take minutes instead of hours. At inference one tower embeds each
photo: ``KerasEmbedder(head_path=...)`` applies the exported head after the backbone.

Loss, over every pair in a batch (the batch form of a Siamese pair loss):
    L = mean_pos d^2 + mean_neg max(0, margin - d)^2          (contrastive, Hadsell et al.)
      + triplet_weight * mean max(0, d(a, p) - d(a, n) + triplet_margin)   (optional)
with d the Euclidean distance between L2-normalised embeddings, so d^2 = 2 - 2 cos and
cosine similarity and Euclidean distance rank pairs identically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from imgfinder.model.efficientnet_lite import import_keras


def build_head(
    in_dim: int = 1280, hidden: int = 512, out_dim: int = 256, seed: int = 0, dropout: float = 0.2,
    init_kernel: np.ndarray | None = None,
) -> Any:
    """The projection head as a Keras model (features -> L2-normalised embedding).

    ``hidden=0`` makes a single linear projection, optionally initialised from
    ``init_kernel`` (e.g. the training features' principal axes), so training starts
    from the backbone's own geometry and only bends it where the pairs demand.
    """
    keras = import_keras()
    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((in_dim,), name="backbone_features")
    x = keras.layers.Dropout(dropout, seed=seed, name="feature_dropout")(inputs)
    n = 0
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu", kernel_initializer=init, name="head_dense_0")(x)
        n = 1
    kernel_init = keras.initializers.Constant(init_kernel) if init_kernel is not None else init
    x = keras.layers.Dense(out_dim, kernel_initializer=kernel_init, name=f"head_dense_{n}")(x)
    x = keras.layers.UnitNormalization(axis=-1, name="l2_normalise")(x)
    return keras.Model(inputs, x, name="projection_head")


def principal_axes(features: np.ndarray, out_dim: int) -> np.ndarray:
    """(in_dim, out_dim) projection onto the top principal axes of L2-normalised features,
    scaled to keep the features' norm so the projection starts close to the identity."""
    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:out_dim].T
    if axes.shape[1] < out_dim:  # fewer samples than dimensions: complete with random orthogonal axes
        rng = np.random.default_rng(0)
        extra = rng.normal(size=(x.shape[1], out_dim - axes.shape[1]))
        extra -= axes @ (axes.T @ extra)
        q, _ = np.linalg.qr(extra)
        axes = np.concatenate([axes, q], axis=1)
    return axes.astype(np.float32)


def build_siamese(head: Any, in_dim: int = 1280) -> Any:
    """Two towers sharing ``head``: (features_a, features_b) -> Euclidean distance.

    The training loop below uses the batched all-pairs form of the same loss for
    efficiency; this explicit two-tower model is what a pair-by-pair trainer (or a
    reader) would use, and the tests check that both agree.
    """
    keras = import_keras()
    from keras import ops

    a = keras.Input((in_dim,), name="features_a")
    b = keras.Input((in_dim,), name="features_b")
    ea, eb = head(a), head(b)
    distance = keras.layers.Lambda(lambda t: ops.sqrt(ops.maximum(ops.sum(ops.square(t[0] - t[1]), axis=-1), 1e-12)), name="distance")([ea, eb])
    return keras.Model([a, b], distance, name="siamese")


def contrastive_loss(distance: Any, same: Any, margin: float) -> Any:
    """Per-pair contrastive loss: same * d^2 + (1 - same) * max(0, margin - d)^2."""
    from keras import ops

    same = ops.cast(same, distance.dtype)
    return same * ops.square(distance) + (1.0 - same) * ops.square(ops.maximum(margin - distance, 0.0))


def batch_loss(
    embeddings: Any, labels: Any, negative_allowed: Any, margin: float, triplet_weight: float = 0.0,
    triplet_margin: float = 0.3,
) -> Any:
    """Contrastive (and optional triplet) loss over all pairs of a batch.

    ``labels[i]`` is the source id of row i; ``negative_allowed[i, j]`` says whether a
    pair of different sources may be used as a negative (pairs of overlapping crops of
    one photo are neither positive nor negative: their truth is ambiguous).
    """
    from keras import ops

    sq = ops.maximum(2.0 - 2.0 * ops.matmul(embeddings, ops.transpose(embeddings)), 0.0)
    d = ops.sqrt(sq + 1e-12)
    n = ops.shape(embeddings)[0]
    eye = ops.eye(n)
    same = ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32") * (1.0 - eye)
    neg = ops.cast(negative_allowed, "float32") * (1.0 - same) * (1.0 - eye)
    pos_loss = ops.sum(same * sq) / ops.maximum(ops.sum(same), 1.0)
    neg_terms = neg * ops.square(ops.maximum(margin - d, 0.0))
    # Average over the negatives that still violate the margin (hard ones), so the few
    # informative pairs are not drowned by thousands of easy ones.
    active = ops.cast(neg_terms > 0, "float32")
    neg_loss = ops.sum(neg_terms) / ops.maximum(ops.sum(active), 1.0)
    loss = pos_loss + neg_loss
    if triplet_weight:
        big = 1e3
        hardest_pos = ops.max(d * same, axis=1)
        hardest_neg = ops.min(d * neg + big * (1.0 - neg), axis=1)
        valid = ops.cast(ops.sum(same, axis=1) > 0, "float32") * ops.cast(ops.sum(neg, axis=1) > 0, "float32")
        trip = ops.maximum(hardest_pos - hardest_neg + triplet_margin, 0.0) * valid
        loss = loss + triplet_weight * ops.sum(trip) / ops.maximum(ops.sum(valid), 1.0)
    return loss


def spread_loss(embeddings: Any, reference: Any, negative_allowed: Any, slack: float) -> Any:
    """Mean over negative pairs of max(0, cos_head - cos_backbone - slack)^2.

    Why: a contrastive loss trained on few photos may satisfy its margin by pulling *all*
    photos together (a collapsed space: every unrelated pair at cosine 0.9). This term
    forbids the head to make any negative pair more similar than the backbone made it,
    so duplicate search stays selective on photos the head never saw.
    """
    from keras import ops

    n = ops.shape(embeddings)[0]
    mask = ops.cast(negative_allowed, "float32") * (1.0 - ops.eye(n))
    head_cos = ops.matmul(embeddings, ops.transpose(embeddings))
    base_cos = ops.matmul(reference, ops.transpose(reference))
    excess = ops.maximum(head_cos - base_cos - slack, 0.0)
    return ops.sum(mask * ops.square(excess)) / ops.maximum(ops.sum(mask), 1.0)


def export_head(head: Any, path: str | Path) -> None:
    """Save the head's dense layers as the ``.npz`` that ``KerasEmbedder`` loads."""
    arrays: dict[str, np.ndarray] = {}
    dense = [layer for layer in head.layers if layer.name.startswith("head_dense_")]
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        arrays[f"kernel_{i}"] = kernel.astype(np.float32)
        arrays[f"bias_{i}"] = bias.astype(np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
