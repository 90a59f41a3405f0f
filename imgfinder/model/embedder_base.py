"""What every backbone runtime shares: the four turns, the head, the whitening and the ids.

Implements the core's ``Embedder`` protocol by duck typing::

    model_id: str      # changes whenever weights/architecture/preprocessing/runtime change
    input_size: int    # square side of the uint8 RGB images to feed
    dim: int           # embedding length
    def embed(self, images: np.ndarray) -> np.ndarray  # (N,S,S,3) uint8 -> (N,dim) float32, L2-normalised

Descriptor = the mean of the L2-normalised, global-average-pooled 1280-d backbone
features of the photo turned by 0, 90, 180 and 270 degrees (``rotations=4``); the copy
vector is the descriptor through an optional projection head stored as a ``.npz`` (see
:func:`load_head`), then L2-normalised; the retrieval vector is the descriptor through
an optional learned whitening.

Why the four turns: a CNN's filters are not rotation-equivariant, so a photo turned
by 90 degrees gets a different pooled feature (cosine ~0.4 to its original). The mean
over the rotation group is the same for every turn of the square input (exactly, up to
float rounding), so rotated copies are found by the index like any other copy; mirrors
are close already (the backbone was trained with flips).

Two runtimes run the same backbone: :class:`~imgfinder.model.tflite_embedder.TFLiteEmbedder`
(the app: LiteRT with XNNPACK, no TensorFlow) and
:class:`~imgfinder.model.keras_embedder.KerasEmbedder` (training and conversion). A
subclass provides :meth:`BackboneEmbedder.load`, :attr:`BackboneEmbedder.loaded`,
``_weights_tag`` (which weights, for the ids), ``runtime_id`` and ``_features_chunk``.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from imgfinder.core.cpus import usable_cores
from imgfinder.core.decoder import PREPROCESSING_ID
from imgfinder.model.efficientnet_lite import ARCH_ID, HEAD_CHANNELS
from imgfinder.model.weights import file_fingerprint

__all__ = ["BackboneEmbedder", "HeadWeights", "apply_head", "load_head", "turned_views", "mean_of_turns", "usable_cores"]

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


def apply_head(layers: HeadWeights, x: np.ndarray) -> np.ndarray:
    """Descriptors through a head's dense layers (ReLU between them, none after), not yet
    L2-normalised: how the app, and the training command's report, apply a head."""
    x = np.asarray(x, dtype=np.float32)
    last = len(layers) - 1
    for i, (k, b) in enumerate(layers):
        x = x @ k + b
        if i != last:
            x = np.maximum(x, 0.0)
    return x.astype(np.float32, copy=False)


def turned_views(images: np.ndarray, turns: int) -> np.ndarray:
    """``(N, S, S, 3)`` -> ``(turns * N, S, S, 3)``: all photos turned by 0, then by 360/turns degrees, ..."""
    if turns == 1:
        return images
    step = 4 // turns
    return np.concatenate([np.rot90(images, k * step, axes=(1, 2)) for k in range(turns)], axis=0)


def mean_of_turns(features: np.ndarray, turns: int) -> np.ndarray:
    """``(turns * N, F)`` pooled features (as :func:`turned_views` orders them) -> ``(N, F)``:
    the mean of the L2-normalised features of each photo's turns (the raw feature for one turn)."""
    if turns == 1:
        return features.astype(np.float32, copy=False)
    f = features.reshape(turns, -1, features.shape[-1]).astype(np.float32, copy=False)
    # tf.math.l2_normalize's formula, so both runtimes round alike.
    f = f / np.sqrt(np.maximum((f * f).sum(axis=-1, keepdims=True), 1e-12))
    return f.mean(axis=0, dtype=np.float32)


class BackboneEmbedder:
    """Lazy embedder: the constructor records settings and reads the small head/whitening files;
    the backbone is loaded on :meth:`load` or on the first :meth:`embed`."""

    runtime_id: str = "?"
    """Names the runtime in :attr:`model_id` (e.g. ``keras``, ``tflite@<fingerprint>``)."""

    def __init__(
        self,
        head_path: str | Path | None = None,
        *,
        whitening_path: str | Path | None = None,
        input_size: int = 160,
        rotations: int = 4,
        batch_size: int = 32,
    ) -> None:
        if input_size < 32:
            raise ValueError("input_size must be at least 32")
        if rotations not in (1, 2, 4):
            raise ValueError("rotations must be 1, 2 or 4")
        self.input_size: int = int(input_size)
        self.rotations: int = int(rotations)
        self.batch_size: int = max(1, int(batch_size))
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

    # -- ids -----------------------------------------------------------------------
    def _weights_tag(self) -> str:
        """``<backbone id>@<fingerprint of the weights>``."""
        raise NotImplementedError

    def _feature_suffix(self) -> list[str]:
        """Extra parts of :attr:`feature_id` for a runtime whose descriptors differ from the
        float32 reference (e.g. a quantised model); none for an equivalent one."""
        return []

    @functools.cached_property
    def feature_id(self) -> str:
        """Identifies the stored descriptor: weights, input size, pooling, turns (and the
        runtime only if it computes different numbers; see :attr:`model_id`)."""
        parts = [ARCH_ID, self._weights_tag(), f"s{self.input_size}", PREPROCESSING_ID, "gap"]
        if self.rotations > 1:
            parts.append(f"rot{self.rotations}")
        return "/".join(parts + self._feature_suffix())

    @functools.cached_property
    def model_id(self) -> str:
        """Identifies everything that shapes the copy vectors, the runtime included (cached;
        hashes files once)."""
        parts = [self.feature_id, f"rt-{self.runtime_id}"]
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

    # -- the backbone ----------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        raise NotImplementedError

    def load(self) -> None:
        raise NotImplementedError

    def _features_chunk(self, images: np.ndarray) -> np.ndarray:
        """``(n <= batch_size, S, S, 3)`` contiguous uint8 -> ``(n, 1280)`` float32 (loaded)."""
        raise NotImplementedError

    # -- the protocol ----------------------------------------------------------------
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
            out[start : start + len(chunk)] = self._features_chunk(chunk)
        return out

    def _apply_head(self, x: np.ndarray) -> np.ndarray:
        assert self._head is not None
        return apply_head(self._head, x)
