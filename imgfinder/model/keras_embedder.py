"""The backbone on Keras/TensorFlow (CPU): the engine of training and of the TFLite conversion.

The app runs the same network converted to TensorFlow Lite
(:mod:`imgfinder.model.tflite_embedder`); this runtime stays for
``python -m imgfinder.model.train`` (whose cached features come from
:meth:`KerasEmbedder.features`), for :mod:`imgfinder.model.tflite_convert`, and for
platforms without a LiteRT wheel (``IMGFINDER_BACKBONE_TFLITE=none`` picks it too). The
descriptor, head and ids are those of :class:`~imgfinder.model.embedder_base.BackboneEmbedder`.

Why a ``tf.function`` and not ``model.predict``: on a 2-core CPU ``predict``
costs ~75 ms for a single image against ~15 ms for a traced function (per-call
setup dominates), and eager calls are slower still. The function is traced once
with an unknown batch dimension, so no batch size causes a retrace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from imgfinder.model.efficientnet_lite import HEAD_CHANNELS, import_keras
from imgfinder.model.embedder_base import BackboneEmbedder, HeadWeights, load_head, usable_cores
from imgfinder.model.weights import BACKBONE_ID, backbone_fingerprint, file_fingerprint

__all__ = ["KerasEmbedder", "HeadWeights", "load_head", "configure_tf_threads"]




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
        tf.config.threading.set_intra_op_parallelism_threads(intra_op or usable_cores())
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # the TF runtime is already running: keep its settings
        return False
    return True


class KerasEmbedder(BackboneEmbedder):
    """Lazy EfficientNet-Lite0 embedder on Keras.

    The constructor only records settings (and validates ``head_path``); the
    network is built on :meth:`load` or on the first :meth:`embed`.
    """

    runtime_id = "keras"

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
        super().__init__(
            head_path, whitening_path=whitening_path, input_size=input_size, rotations=rotations,
            batch_size=batch_size,
        )
        self._weights_path = Path(weights_path) if weights_path is not None else None
        self._model: Any = None
        self._fn: Any = None

    def _weights_tag(self) -> str:
        fp = file_fingerprint(self._weights_path) if self._weights_path else backbone_fingerprint()
        return f"{BACKBONE_ID}@{fp}"

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

    def _features_chunk(self, images: np.ndarray) -> np.ndarray:
        return self._fn(images).numpy()
