"""What the core needs from a model: the ``Embedder`` protocol.

The real implementation (TensorFlow) lives in ``imgfinder.model``; tests inject small
deterministic fakes, so the engine never depends on how embeddings are made.
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


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
