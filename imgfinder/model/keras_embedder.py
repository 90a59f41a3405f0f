"""Image embedder on EfficientNet-Lite0 (Keras/TensorFlow, CPU).

Implements the core's ``Embedder`` protocol by duck typing::

    model_id: str      # changes whenever weights/architecture/preprocessing change
    input_size: int    # square side of the uint8 RGB images to feed
    dim: int           # embedding length
    def embed(self, images: np.ndarray) -> np.ndarray  # (N,S,S,3) uint8 -> (N,dim) float32, L2-normalised

Embedding = the mean of the L2-normalised, global-average-pooled 1280-d backbone
features of the photo turned by 0, 90, 180 and 270 degrees (``rotations=4``),
optionally passed through a projection head stored as a ``.npz`` (see
:func:`load_head`), then L2-normalised.

Why the four turns: a CNN's filters are not rotation-equivariant, so a photo turned
by 90 degrees gets a different pooled feature (cosine ~0.4 to its original). The mean
over the rotation group is the same for every turn of the square input (exactly, up to
float rounding), so rotated copies are found by the index like any other copy; mirrors
are close already (the backbone was trained with flips). Cost: four passes at 160 px
are ~2.3x one pass at 224 px (measured on the quality set: 40.8 s vs 17.7 s for 828
photos on 2 cores).

Why a ``tf.function`` and not ``model.predict``: on a 2-core CPU ``predict``
costs ~75 ms for a single image against ~15 ms for a traced function (per-call
setup dominates), and eager calls are slower still. The function is traced once
with an unknown batch dimension, so no batch size causes a retrace.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from imgfinder.model.efficientnet_lite import ARCH_ID, HEAD_CHANNELS, import_keras
from imgfinder.model.weights import BACKBONE_ID, backbone_fingerprint, file_fingerprint

__all__ = ["KerasEmbedder", "HeadWeights", "load_head", "configure_tf_threads"]

HeadWeights = list[tuple[np.ndarray, np.ndarray]]
"""Projection head: dense layers ``(kernel (in, out), bias (out,))`` in order."""


def load_head(path: str | Path, in_dim: int = HEAD_CHANNELS) -> HeadWeights:
    """Read a projection head ``.npz``: arrays ``kernel_0``, ``bias_0``, ``kernel_1``, ...

    Layers are applied in index order with ReLU between them (none after the
    last). Anything else (normalisation, scaling) must be folded into the dense
    weights by the training code. Shapes are checked so a bad file fails here,
    not in the middle of a scan.
    """
    with np.load(Path(path), allow_pickle=False) as z:
        names = set(z.files)
        layers: HeadWeights = []
        i = 0
        while f"kernel_{i}" in names:
            if f"bias_{i}" not in names:
                raise ValueError(f"{path}: kernel_{i} has no bias_{i}")
            layers.append((z[f"kernel_{i}"].astype(np.float32), z[f"bias_{i}"].astype(np.float32)))
            names -= {f"kernel_{i}", f"bias_{i}"}
            i += 1
    if not layers:
        raise ValueError(f"{path}: no kernel_0/bias_0 arrays: not a projection head file")
    if names:
        raise ValueError(f"{path}: unexpected arrays {sorted(names)}")
    dim = in_dim
    for i, (k, b) in enumerate(layers):
        if k.ndim != 2 or k.shape[0] != dim or b.shape != (k.shape[1],):
            raise ValueError(f"{path}: layer {i} has kernel {k.shape}, bias {b.shape}; expected input {dim}")
        dim = k.shape[1]
    return layers


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def configure_tf_threads(intra_op: int | None = None, inter_op: int = 1) -> bool:
    """Size TF's thread pools; returns False if TF was already initialised.

    Why: intra-op = cores gives the best throughput (measured: 2 threads ~95
    img/s vs ~63 with 1 on 2 cores); one inter-op thread is enough for a
    sequential CNN and keeps TF from oversubscribing the CPU next to the GUI
    and the image decoders.
    """
    keras = import_keras()  # noqa: F841  (ensures quiet TF import first)
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op or _usable_cores())
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # the TF runtime is already running: keep its settings
        return False
    return True


class KerasEmbedder:
    """Lazy EfficientNet-Lite0 embedder.

    The constructor only records settings (and validates ``head_path``); the
    network is built on :meth:`load` or on the first :meth:`embed`, so a GUI can
    create it at start-up and warm it up in a background thread.
    """

    def __init__(
        self,
        head_path: str | Path | None = None,
        *,
        whitening_path: str | Path | None = None,
        input_size: int = 160,
        rotations: int = 4,
        batch_size: int = 32,
        weights_path: str | Path | None = None,
    ) -> None:
        if input_size < 32:
            raise ValueError("input_size must be at least 32")
        if rotations not in (1, 2, 4):
            raise ValueError("rotations must be 1, 2 or 4")
        self.input_size: int = int(input_size)
        self.rotations: int = int(rotations)
        self.batch_size: int = max(1, int(batch_size))
        self._weights_path = Path(weights_path) if weights_path is not None else None
        self._head_path = Path(head_path) if head_path is not None else None
        self._head: HeadWeights | None = load_head(self._head_path) if self._head_path else None
        self._whitening_path = Path(whitening_path) if whitening_path is not None else None
        self._whitening: tuple[np.ndarray, np.ndarray] | None = None
        if self._whitening_path is not None:
            from imgfinder.model.learned_whitening import load_whitening

            self._whitening = load_whitening(self._whitening_path)
            if self._whitening[0].shape[0] != HEAD_CHANNELS:
                raise ValueError(f"{self._whitening_path}: whitening for {self._whitening[0].shape[0]}-d descriptors")
        self.dim: int = self._head[-1][1].shape[0] if self._head else HEAD_CHANNELS
        self._lock = threading.Lock()
        self._model: Any = None
        self._fn: Any = None

    @functools.cached_property
    def feature_id(self) -> str:
        """Identifies the stored descriptor: weights, input size, pooling, turns."""
        fp = file_fingerprint(self._weights_path) if self._weights_path else backbone_fingerprint()
        parts = [ARCH_ID, f"{BACKBONE_ID}@{fp}", f"s{self.input_size}", "gap"]
        if self.rotations > 1:
            parts.append(f"rot{self.rotations}")
        return "/".join(parts)

    @functools.cached_property
    def model_id(self) -> str:
        """Identifies everything that shapes the copy vectors (cached; hashes files once)."""
        parts = [self.feature_id]
        if self._head_path is not None:
            parts.append(f"head@{file_fingerprint(self._head_path)}")
        parts.append("l2")
        return "/".join(parts)

    @functools.cached_property
    def retrieval_id(self) -> str:
        """Identifies the retrieval vectors: the descriptor and the whitening."""
        if self._whitening_path is None:
            return f"{self.feature_id}/l2"
        return f"{self.feature_id}/lw@{file_fingerprint(self._whitening_path)}"

    @property
    def loaded(self) -> bool:
        return self._fn is not None

    @property
    def keras_model(self) -> Any:
        """The backbone ``keras.Model`` (pixels -> 1280-d pooled feature); loads it if needed."""
        self.load()
        return self._model

    def load(self) -> None:
        """Import TF, build the network and trace the inference function (idempotent, thread-safe)."""
        if self._fn is not None:
            return
        with self._lock:
            if self._fn is not None:
                return
            from imgfinder.model.efficientnet_lite import build_efficientnet_lite0
            from imgfinder.model.weights import load_backbone_weights

            configure_tf_threads()
            import tensorflow as tf

            weights = load_backbone_weights(self._weights_path)
            model = build_efficientnet_lite0(weights, include_top=False, input_size=self.input_size)
            s = self.input_size
            turns = self.rotations

            @tf.function(input_signature=[tf.TensorSpec([None, s, s, 3], tf.uint8)])
            def features(x: Any) -> Any:
                x = tf.cast(x, tf.float32)
                if turns == 1:
                    return model(x, training=False)
                # One batch of all turns: (turns * N, ...) -> (turns, N, 1280) -> mean.
                step = 4 // turns
                views = tf.concat([tf.image.rot90(x, k * step) for k in range(turns)], axis=0)
                f = model(views, training=False)
                f = tf.math.l2_normalize(tf.reshape(f, [turns, -1, HEAD_CHANNELS]), axis=-1)
                return tf.reduce_mean(f, axis=0)

            # Trace now (~0.6 s) so the first real call is fast.
            features(np.zeros((1, s, s, 3), np.uint8))
            self._model = model
            self._fn = features

    def embed(self, images: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB -> ``(N, dim)`` float32 L2-normalised copy vectors.

        Large inputs are processed in chunks of ``batch_size`` to bound memory.
        """
        return self.copy_vectors(self.features(images))

    def describe(self, images: np.ndarray) -> np.ndarray:
        """The descriptor the catalog stores: the backbone features (see :meth:`features`)."""
        return self.features(images)

    def copy_vectors(self, descriptors: np.ndarray) -> np.ndarray:
        """Descriptors -> the Siamese head's L2-normalised copy vectors (for duplicates)."""
        out = np.asarray(descriptors, dtype=np.float32)
        if self._head is not None:
            out = self._apply_head(out)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)

    def retrieval_vectors(self, descriptors: np.ndarray) -> np.ndarray:
        """Descriptors -> L2-normalised retrieval vectors (learned whitening, for similar search)."""
        if self._whitening is None:
            x = np.asarray(descriptors, dtype=np.float32)
            return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        from imgfinder.model.learned_whitening import apply_whitening

        return apply_whitening(descriptors, *self._whitening)

    def features(self, images: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 -> ``(N, 1280)`` backbone features before the head.

        The training command caches exactly these, so a head is trained on what it
        will see in the app.
        """
        images = np.asarray(images)
        s = self.input_size
        if images.dtype != np.uint8:
            raise TypeError(f"images must be uint8 RGB 0..255, got {images.dtype}")
        if images.ndim != 4 or images.shape[1:] != (s, s, 3):
            raise ValueError(f"images must have shape (N, {s}, {s}, 3), got {images.shape}")
        n = images.shape[0]
        out = np.empty((n, HEAD_CHANNELS), np.float32)
        if n == 0:
            return out
        self.load()
        for start in range(0, n, self.batch_size):
            chunk = np.ascontiguousarray(images[start : start + self.batch_size])
            out[start : start + len(chunk)] = self._fn(chunk).numpy()
        return out

    def _apply_head(self, x: np.ndarray) -> np.ndarray:
        assert self._head is not None
        last = len(self._head) - 1
        for i, (k, b) in enumerate(self._head):
            x = x @ k + b
            if i != last:
                np.maximum(x, 0.0, out=x)
        return x.astype(np.float32, copy=False)
