"""Which runtime runs the backbone: :func:`make_embedder` picks TensorFlow Lite or Keras.

Kept in a module of its own (no multiprocessing, no runtime imported) so the CLI's start-up
and the GUI's model process share the choice at no cost.
"""

from __future__ import annotations

from pathlib import Path

from imgfinder.model.embedder_base import BackboneEmbedder

__all__ = ["SHIPPED", "make_embedder"]

SHIPPED = "shipped"
"""``tflite_path`` default: the shipped TFLite model if LiteRT is installed, else Keras."""


def make_embedder(
    tflite_path: str | Path | None, head_path: str | Path | None = None, whitening_path: str | Path | None = None,
    input_size: int | None = None,
) -> BackboneEmbedder:
    """The embedder on TensorFlow Lite (``tflite_path``, or :data:`SHIPPED`), or on Keras for ``None``."""
    if tflite_path == SHIPPED:
        from imgfinder.model.tflite_embedder import litert_available

        tflite_path = None if not litert_available() else SHIPPED
    if tflite_path is None:
        from imgfinder.model.keras_embedder import KerasEmbedder

        return KerasEmbedder(head_path=head_path, whitening_path=whitening_path, input_size=input_size or 160)
    from imgfinder.model.tflite_embedder import TFLiteEmbedder

    return TFLiteEmbedder(
        head_path=head_path, whitening_path=whitening_path, input_size=input_size,
        tflite_path=None if tflite_path == SHIPPED else tflite_path,
    )
