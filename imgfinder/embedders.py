"""Which embedder the app uses by default: the Keras model with the shipped weights.

Kept apart from the CLI and GUI so both make the same choice, and so nothing here
imports TensorFlow until an image actually has to be embedded.

``IMGFINDER_MODEL_HEAD`` overrides the projection head: a path to another ``.npz``
(e.g. one fine-tuned on your own library with ``python -m imgfinder.model.train``), or
``none`` for the bare backbone. The model id changes with it, and the copy vectors are
remade from the stored descriptors (no photo is decoded again).
"""

from __future__ import annotations

import os
from pathlib import Path

from .core.embedding import Embedder

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEFAULT_HEAD = RESOURCES / "models" / "siamese_head.npz"
DEFAULT_WHITENING = RESOURCES / "models" / "retrieval_whitening.npz"


def default_head() -> Path | None:
    override = os.environ.get("IMGFINDER_MODEL_HEAD")
    if override:
        return None if override.lower() == "none" else Path(override)
    return DEFAULT_HEAD if DEFAULT_HEAD.exists() else None


def default_whitening() -> Path | None:
    """The retrieval whitening (``IMGFINDER_RETRIEVAL_WHITENING``: another ``.npz`` or ``none``)."""
    override = os.environ.get("IMGFINDER_RETRIEVAL_WHITENING")
    if override:
        return None if override.lower() == "none" else Path(override)
    return DEFAULT_WHITENING if DEFAULT_WHITENING.exists() else None


def default_embedder() -> Embedder:
    from .model.keras_embedder import KerasEmbedder

    return KerasEmbedder(head_path=default_head(), whitening_path=default_whitening())


def gui_embedder() -> Embedder:
    """The default model, served from a child process so TensorFlow never blocks the window."""
    from .model.process_embedder import ProcessEmbedder

    return ProcessEmbedder(head_path=default_head(), whitening_path=default_whitening())
