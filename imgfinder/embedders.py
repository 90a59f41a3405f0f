"""Which embedder the app uses by default: the Keras model with the shipped weights.

Kept apart from the CLI and GUI so both make the same choice, and so nothing here
imports TensorFlow until an image actually has to be embedded.
"""

from __future__ import annotations

from pathlib import Path

from .core.embedding import Embedder

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def default_embedder() -> Embedder:
    from .model.keras_embedder import KerasEmbedder

    return KerasEmbedder()
