"""The app's backbone on TensorFlow Lite (LiteRT, XNNPACK on the CPU), without TensorFlow.

The EfficientNet-Lite0 backbone (160 px, pixels 0..255 -> 1280-d pooled feature) is
converted once from the Keras model by :mod:`imgfinder.model.tflite_convert` and shipped
in the package (``resources/models/efficientnet_lite0_s160.tflite``, with its provenance
in ``efficientnet_lite0_s160.convert.json``). It runs on the small ``ai-edge-litert``
package: importing it and loading the model takes about 0.3 s and 100 MB, against
3-7 s and ~600 MB for TensorFlow and the Keras model, and inference is faster too.

The four turns, their L2-normalised mean, the head and the whitening are numpy
(:class:`~imgfinder.model.embedder_base.BackboneEmbedder`). The float32 model computes the
Keras model's numbers (max |difference| ~6e-7 on features of norm ~1, far below the float16
the catalog stores), so its descriptors keep the Keras :attr:`feature_id`: switching runtimes
re-derives the copy vectors (the runtime is part of :attr:`model_id`) but decodes no photo.
A model of another precision (float16 weights, int8) computes other numbers and gets its own
feature id, so catalogs re-embed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from imgfinder.model.stderr_filter import filtered_stderr
from imgfinder.model.efficientnet_lite import ARCH_ID, HEAD_CHANNELS
from imgfinder.model.embedder_base import BackboneEmbedder, mean_of_turns, turned_views, usable_cores
from imgfinder.model.weights import file_fingerprint

__all__ = [
    "TFLiteEmbedder",
    "TFLiteModelError",
    "metadata_path",
    "read_metadata",
    "litert_available",
    "LITERT_PACKAGE",
    "METADATA_FORMAT",
]

LITERT_PACKAGE = "ai_edge_litert"
METADATA_FORMAT = "imgfinder-tflite-backbone-v1"
VIEWS_PER_INVOKE = 16
"""Views (4 photos x 4 turns) per interpreter call: on 2 cores XNNPACK is as fast per view
at 4 views as at 128 (~9-10 ms a view), and the activations of 16 views stay small (the
process peaks ~170 MB, against ~520 MB at 128 views)."""

# What LiteRT prints on fd 2 when it first applies XNNPACK: an INFO line without a switch.
_LITERT_NOISE = re.compile(r"^INFO: (Created TensorFlow Lite XNNPACK delegate for CPU|Initialized TensorFlow Lite runtime)\.$")


class TFLiteModelError(RuntimeError):
    """The .tflite file or its metadata is missing, corrupt, or from another graph or weights."""


def litert_available() -> bool:
    """Whether the LiteRT package is installed (checked without importing it)."""
    return importlib.util.find_spec(LITERT_PACKAGE) is not None


def metadata_path(tflite_path: str | Path) -> Path:
    """``name.tflite`` -> ``name.convert.json``: what the model was converted from, and how."""
    p = Path(tflite_path)
    return p.with_name(p.stem + ".convert.json")


def read_metadata(tflite_path: str | Path) -> dict[str, Any]:
    """The provenance written beside a converted model; :class:`TFLiteModelError` if unusable."""
    path = metadata_path(tflite_path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TFLiteModelError(
            f"{path.name} is missing beside {Path(tflite_path).name}: every converted model needs "
            f"its metadata (python -m imgfinder.model.tflite_convert writes both)"
        ) from None
    except (OSError, ValueError) as exc:
        raise TFLiteModelError(f"{path}: unreadable metadata: {exc}") from None
    need = ("format", "arch", "backbone", "weights_sha256", "input_size", "precision", "tflite_sha256")
    if not isinstance(meta, dict) or meta.get("format") != METADATA_FORMAT or any(k not in meta for k in need):
        raise TFLiteModelError(f"{path}: not {METADATA_FORMAT} metadata")
    return meta


def _quiet_stderr() -> contextlib.AbstractContextManager[None]:
    """Drop LiteRT's INFO line from fd 2 while a model is first set up; keep anything else
    (main thread only: the CLI loads in the foreground, the GUI's model process on its own
    main thread)."""
    return filtered_stderr(_LITERT_NOISE)


class TFLiteEmbedder(BackboneEmbedder):
    """Lazy EfficientNet-Lite0 embedder on LiteRT.

    ``tflite_path``: a model written by :mod:`imgfinder.model.tflite_convert` (default: the
    shipped one). The constructor reads only the small metadata, the head and the
    whitening; :meth:`load` (or the first :meth:`embed`) imports LiteRT and builds the
    interpreter. ``input_size``, if given, must match the model's.
    """

    def __init__(
        self,
        head_path: str | Path | None = None,
        *,
        whitening_path: str | Path | None = None,
        tflite_path: str | Path | None = None,
        input_size: int | None = None,
        rotations: int = 4,
        batch_size: int = 32,
        num_threads: int | None = None,
    ) -> None:
        if tflite_path is None:
            from imgfinder.shipped import BACKBONE_FILE, require_resource

            tflite_path = require_resource(BACKBONE_FILE)
        self.tflite_path = Path(tflite_path)
        if not self.tflite_path.is_file():
            raise TFLiteModelError(f"{self.tflite_path} does not exist")
        self.metadata = read_metadata(self.tflite_path)
        if self.metadata["arch"] != ARCH_ID:
            raise TFLiteModelError(
                f"{self.tflite_path.name} was converted from graph {self.metadata['arch']}, this code builds "
                f"{ARCH_ID}: convert it again (python -m imgfinder.model.tflite_convert)"
            )
        size = int(self.metadata["input_size"])
        if input_size is not None and int(input_size) != size:
            raise ValueError(f"{self.tflite_path.name} takes {size} px images, not {input_size}")
        super().__init__(
            head_path, whitening_path=whitening_path, input_size=size, rotations=rotations, batch_size=batch_size
        )
        self.precision: str = str(self.metadata["precision"])
        self.num_threads: int = int(num_threads) if num_threads else usable_cores()
        self._interpreter: Any = None
        self._views = 0  # the interpreter's current batch of views
        self._in = self._out = -1

    # -- ids -----------------------------------------------------------------------
    def _weights_tag(self) -> str:
        return f"{self.metadata['backbone']}@{str(self.metadata['weights_sha256'])[:12]}"

    @functools.cached_property
    def runtime_id(self) -> str:  # type: ignore[override]
        """``tflite-<precision>@<fingerprint of the .tflite>`` (hashes the 13 MB file once, ~15 ms)."""
        return f"tflite-{self.precision}@{file_fingerprint(self.tflite_path)}"

    def _feature_suffix(self) -> list[str]:
        # float32 gives the Keras model's descriptors within float rounding: same feature id.
        return [] if self.precision == "float32" else [self.runtime_id]

    # -- the backbone ----------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._interpreter is not None

    def load(self) -> None:
        """Import LiteRT and set the model up on XNNPACK (idempotent, thread-safe; ~0.3 s)."""
        if self._interpreter is not None:
            return
        with self._lock:
            if self._interpreter is not None:
                return
            digest = file_fingerprint(self.tflite_path, length=64)
            if digest != self.metadata["tflite_sha256"]:
                raise TFLiteModelError(
                    f"{self.tflite_path} does not match its metadata (sha256 {digest[:12]}, expected "
                    f"{str(self.metadata['tflite_sha256'])[:12]}): corrupt, or converted again without it"
                )
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError as exc:
                raise TFLiteModelError(
                    f"the LiteRT runtime is not installed ({exc}): pip install ai-edge-litert, "
                    f"or set IMGFINDER_BACKBONE_TFLITE=none to run the model on TensorFlow"
                ) from None
            with _quiet_stderr():
                interpreter = Interpreter(model_path=str(self.tflite_path), num_threads=self.num_threads)
                (inp,) = interpreter.get_input_details()
                (out,) = interpreter.get_output_details()
                s = self.input_size
                if list(inp["shape_signature"][1:]) != [s, s, 3] or inp["dtype"] != np.float32:
                    raise TFLiteModelError(f"{self.tflite_path.name}: input {inp['shape_signature']} {inp['dtype']}")
                if int(out["shape"][-1]) != HEAD_CHANNELS or out["dtype"] != np.float32:
                    raise TFLiteModelError(f"{self.tflite_path.name}: output {out['shape']} {out['dtype']}")
                self._in, self._out = int(inp["index"]), int(out["index"])
                self._resize(interpreter, self.rotations)  # one photo: XNNPACK is set up here
            self._interpreter = interpreter

    def _resize(self, interpreter: Any, views: int) -> None:
        """Batch dimension -> ``views`` (cheap after the first time: ~0.2 ms)."""
        s = self.input_size
        interpreter.resize_tensor_input(self._in, [views, s, s, 3], strict=False)
        interpreter.allocate_tensors()
        self._views = views

    def _run(self, views: np.ndarray) -> np.ndarray:
        """``(v, S, S, 3)`` float32 -> ``(v, 1280)`` pooled features (caller holds the lock)."""
        if len(views) != self._views:
            self._resize(self._interpreter, len(views))
        self._interpreter.set_tensor(self._in, views)
        self._interpreter.invoke()  # releases the GIL while XNNPACK runs
        return self._interpreter.get_tensor(self._out)

    def _features_chunk(self, images: np.ndarray) -> np.ndarray:
        views = turned_views(images, self.rotations).astype(np.float32)
        step = VIEWS_PER_INVOKE  # each view is independent: any split gives the same features
        pooled = np.empty((len(views), HEAD_CHANNELS), np.float32)
        with self._lock:
            for start in range(0, len(views), step):
                pooled[start : start + step] = self._run(views[start : start + step])
        return mean_of_turns(pooled, self.rotations)
