"""Run the Keras embedder in a child process.

Why: importing TensorFlow's native libraries holds the GIL for whole fractions of a
second, which froze the desktop app's window three times for 0.4-0.6 s while the model
loaded in a background *thread*. In a child process the import cannot touch the GUI's
event loop at all; only uint8 pixel batches and float32 vectors cross the pipe
(about 5 MB per batch of 32, a few milliseconds).

The parent keeps a cheap, never-loaded ``KerasEmbedder`` for the ids, ``input_size``,
``dim`` and the numpy-only steps after the backbone (the head, the whitening), so nothing
TensorFlow-related is imported here; the child returns descriptors.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from imgfinder.model.keras_embedder import KerasEmbedder


def _serve(conn: Connection, head_path: str | None, input_size: int) -> None:
    """Child process: build the model, then answer pixel batches with descriptors until None."""
    try:
        embedder = KerasEmbedder(head_path=head_path, input_size=input_size)
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
    """The ``Embedder`` protocol, served by a ``KerasEmbedder`` in a child process."""

    def __init__(
        self, head_path: str | Path | None = None, *, whitening_path: str | Path | None = None, input_size: int = 160,
    ) -> None:
        # Never loaded here: it only applies the head and the whitening to descriptors.
        self._local = KerasEmbedder(head_path=head_path, whitening_path=whitening_path, input_size=input_size)
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
            target=_serve, args=(child, self._head_path, self.input_size), name="imgfinder-model", daemon=True
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
