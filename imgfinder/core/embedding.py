"""What the core needs from a model: the ``Embedder`` protocol.

The real implementation (TensorFlow) lives in ``imgfinder.model``; tests inject small
deterministic fakes, so the engine never depends on how embeddings are made.

Two vectors come from one pass of the model over a photo:

* the **descriptor**: what the network computes once per photo, stored in the catalog;
* the **copy vector** (``embed``): made from the descriptor by the Siamese head, for
  duplicates (edited copies close, different photos far);
* the **retrieval vector** (``retrieval_vectors``): made from the descriptor by a learned
  whitening, for "find similar" (other shots of one thing), searched in its own index
  (``core.retrieval``).

An embedder that has no ``describe``/``copy_vectors`` (a minimal fake) is treated as
one whose descriptor *is* its copy vector.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Embedder(Protocol):
    model_id: str  # changes whenever weights, architecture or preprocessing change
    input_size: int  # square side in pixels of the uint8 RGB images ``embed`` takes
    dim: int

    def embed(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 -> (N, dim) float32 with L2-normalised rows."""
        ...


class DescribingEmbedder(Embedder, Protocol):
    """An embedder whose copy vectors are derived from a stored descriptor."""

    feature_id: str  # identifies the descriptor: backbone, input size, pooling

    def describe(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 -> (N, F) float32 descriptors."""
        ...

    def copy_vectors(self, descriptors: np.ndarray) -> np.ndarray:
        """(N, F) descriptors -> (N, dim) L2-normalised copy vectors."""
        ...

    retrieval_id: str  # identifies the retrieval vectors: feature_id + the whitening

    def retrieval_vectors(self, descriptors: np.ndarray) -> np.ndarray:
        """(N, F) descriptors -> (N, R) L2-normalised retrieval vectors."""
        ...


def feature_id_of(embedder: Embedder) -> str:
    return str(getattr(embedder, "feature_id", embedder.model_id))


def describes(embedder: Embedder) -> bool:
    return callable(getattr(embedder, "describe", None)) and callable(getattr(embedder, "copy_vectors", None))


def describe(embedder: Embedder, images: np.ndarray) -> np.ndarray:
    """Descriptors of ``images`` (the copy vectors themselves for a minimal embedder)."""
    if describes(embedder):
        return np.asarray(embedder.describe(images), dtype=np.float32)  # type: ignore[attr-defined]
    return np.asarray(embedder.embed(images), dtype=np.float32)


def copy_vectors(embedder: Embedder, descriptors: np.ndarray) -> np.ndarray:
    if describes(embedder):
        return np.asarray(embedder.copy_vectors(descriptors), dtype=np.float32)  # type: ignore[attr-defined]
    return l2_normalise(descriptors)


def retrieval_id_of(embedder: Embedder) -> str:
    return str(getattr(embedder, "retrieval_id", feature_id_of(embedder)))


def retrieval_vectors(embedder: Embedder, descriptors: np.ndarray) -> np.ndarray:
    """Retrieval vectors (the L2-normalised descriptors for an embedder without its own)."""
    make = getattr(embedder, "retrieval_vectors", None)
    return l2_normalise(make(descriptors) if callable(make) else descriptors)


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
