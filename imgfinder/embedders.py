"""Which embedder the app uses by default: the shipped backbone on TensorFlow Lite.

Kept apart from the CLI and GUI so both make the same choice, and so nothing here
imports a runtime until an image actually has to be embedded.

The backbone is ``resources/models/efficientnet_lite0_s160.tflite`` run by LiteRT
(:class:`~imgfinder.model.tflite_embedder.TFLiteEmbedder`): no TensorFlow, start-up in a
fraction of a second. ``IMGFINDER_BACKBONE_TFLITE`` names another converted model (with its
``.convert.json``), or ``none`` for the Keras model on TensorFlow (the training runtime;
``IMGFINDER_BACKBONE_WEIGHTS`` only applies to it). Where LiteRT is not installed (it has no
wheel for every platform), the Keras model runs instead. The float32 TFLite model computes
the Keras model's descriptors, so a switch re-derives the copy vectors but decodes nothing.

``IMGFINDER_MODEL_HEAD`` overrides the projection head: a path to another ``.npz``
(e.g. one fine-tuned on your own library with ``python -m imgfinder.model.train``), or
``none`` for the bare backbone. The model id changes with it, and the copy vectors are
remade from the stored descriptors (no photo is decoded again).
``IMGFINDER_RETRIEVAL_WHITENING`` does the same for the retrieval whitening.

The shipped files are found through :mod:`imgfinder.shipped`. A missing file, shipped or
named by an override, raises :class:`MissingResourceError`: falling back to another model
would silently change every result. Only an explicit ``none`` runs without one.
"""

from __future__ import annotations

import os
from pathlib import Path

from .core.embedding import Embedder
from .shipped import BACKBONE_FILE, HEAD_FILE, WHITENING_FILE, MissingResourceError, require_resource

__all__ = [
    "MissingResourceError", "default_head", "default_whitening", "default_backbone", "default_embedder",
    "gui_embedder",
]

HEAD_ENV_VAR = "IMGFINDER_MODEL_HEAD"
WHITENING_ENV_VAR = "IMGFINDER_RETRIEVAL_WHITENING"
BACKBONE_ENV_VAR = "IMGFINDER_BACKBONE_TFLITE"


def _model_file(env_var: str, shipped: str) -> Path | None:
    """The override in ``env_var`` (``none``: no file), else the shipped file; never a missing one."""
    override = os.environ.get(env_var)
    if not override:
        return require_resource(shipped)
    if override.lower() == "none":
        return None
    path = Path(override)
    if not path.is_file():
        raise MissingResourceError(
            f"{env_var}={override!r} does not name a file (unset it for the shipped one, "
            f"or set it to 'none' to run without)"
        )
    return path


def default_head() -> Path | None:
    """The Siamese projection head (``IMGFINDER_MODEL_HEAD``: another ``.npz`` or ``none``)."""
    return _model_file(HEAD_ENV_VAR, HEAD_FILE)


def default_whitening() -> Path | None:
    """The retrieval whitening (``IMGFINDER_RETRIEVAL_WHITENING``: another ``.npz`` or ``none``)."""
    return _model_file(WHITENING_ENV_VAR, WHITENING_FILE)


def default_backbone() -> Path | None:
    """The TFLite backbone (``IMGFINDER_BACKBONE_TFLITE``: another ``.tflite``, or ``none``);
    ``None`` means the Keras model on TensorFlow: asked for, or LiteRT is not installed."""
    if not os.environ.get(BACKBONE_ENV_VAR):
        from .model.tflite_embedder import litert_available

        if not litert_available():
            return None
    return _model_file(BACKBONE_ENV_VAR, BACKBONE_FILE)


def default_embedder() -> Embedder:
    from .model.runtime import make_embedder

    return make_embedder(default_backbone(), default_head(), default_whitening())


def gui_embedder() -> Embedder:
    """The default model, served from a child process so loading it never blocks the window."""
    from .model.process_embedder import ProcessEmbedder

    return ProcessEmbedder(head_path=default_head(), whitening_path=default_whitening(), tflite_path=default_backbone())
