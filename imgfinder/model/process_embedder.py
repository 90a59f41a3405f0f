"""Run the backbone in a child process (the desktop app's model).

Why: importing TensorFlow's native libraries holds the GIL for whole fractions of a
second, which froze the desktop app's window three times for 0.4-0.6 s while the model
loaded in a background *thread*. In a child process the import cannot touch the GUI's
event loop at all; only uint8 pixel batches and float32 vectors cross the pipe
(about 5 MB per batch of 32, a few milliseconds). The child runs the same runtime as the
CLI (:func:`make_embedder`): TensorFlow Lite by default, which loads in ~0.3 s and releases
the GIL while it computes, so the child is now a safety margin rather than a necessity.

The parent keeps a cheap, never-loaded embedder of the same kind for the ids,
``input_size``, ``dim`` and the numpy-only steps after the backbone (the head, the
whitening), so no runtime is imported here; the child returns descriptors.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from imgfinder.model.runtime import SHIPPED, make_embedder

__all__ = ["ProcessEmbedder", "SHIPPED"]


def _serve(conn: Connection, tflite_path: str | None, head_path: str | None, input_size: int) -> None:
    """Child process: build the model, then answer pixel batches with descriptors until None."""
    try:
        embedder = make_embedder(tflite_path, head_path, None, input_size)
        embedder.load()
        conn.send(("ready", embedder.model_id))
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        try:
            conn.send(("ok", embedder.describe(request)))
        except BaseException as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class ProcessEmbedder:
    """The ``Embedder`` protocol, served by a :func:`make_embedder` embedder in a child process.

    ``tflite_path``: the TFLite model (default: the shipped one where LiteRT is installed),
    or ``None`` for the Keras model on TensorFlow.
    """

    def __init__(
        self, head_path: str | Path | None = None, *, whitening_path: str | Path | None = None, input_size: int = 160,
        tflite_path: str | Path | None = SHIPPED,
    ) -> None:
        # Never loaded here: it only applies the head and the whitening to descriptors.
        self._local = make_embedder(tflite_path, head_path, whitening_path, input_size)
        local_tflite = getattr(self._local, "tflite_path", None)  # None: the Keras runtime
        self._tflite_path = str(local_tflite) if local_tflite is not None else None
        self._head_path = str(head_path) if head_path is not None else None
        self.input_size: int = self._local.input_size
        self.dim: int = self._local.dim
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None

    @property
    def model_id(self) -> str:
        return self._local.model_id

    @property
    def feature_id(self) -> str:
        return self._local.feature_id

    @property
    def retrieval_id(self) -> str:
        return self._local.retrieval_id

    def copy_vectors(self, descriptors: np.ndarray) -> np.ndarray:
        return self._local.copy_vectors(descriptors)

    def retrieval_vectors(self, descriptors: np.ndarray) -> np.ndarray:
        return self._local.retrieval_vectors(descriptors)

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self.copy_vectors(self.describe(images))

    @property
    def loaded(self) -> bool:
        return self._conn is not None

    def load(self) -> None:
        """Start the child and wait until its model is ready (idempotent, thread-safe)."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._conn is not None:
            return
        ctx = multiprocessing.get_context("spawn")  # never fork a process that runs Qt threads
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_serve, args=(child, self._tflite_path, self._head_path, self.input_size), name="imgfinder-model",
            daemon=True,
        )
        process.start()
        child.close()
        try:
            status, payload = parent.recv()
        except EOFError:
            process.join(5)
            raise RuntimeError(f"the model process exited (code {process.exitcode}) before it was ready") from None
        if status != "ready":
            process.join(5)
            raise RuntimeError(f"the model could not be loaded: {payload}")
        if payload != self.model_id:
            raise RuntimeError(f"the model process reports {payload}, expected {self.model_id}")  # pragma: no cover
        self._process, self._conn = process, parent

    def describe(self, images: np.ndarray) -> np.ndarray:
        """Descriptors of ``images``, computed by the model in the child process."""
        images = np.ascontiguousarray(images, dtype=np.uint8)
        if len(images) == 0:
            return np.zeros((0, 1280), np.float32)
        with self._lock:
            self._start_locked()
            assert self._conn is not None
            try:
                self._conn.send(images)
                status, payload = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._stop_locked()
                raise RuntimeError("the model process stopped unexpectedly") from None
        if status != "ok":
            raise RuntimeError(f"embedding failed in the model process: {payload}")
        return payload

    def close(self) -> None:
        """Stop the child process (it also stops by itself when this process exits)."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (OSError, BrokenPipeError):
                pass
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
            self._process = None
