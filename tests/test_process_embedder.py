"""The model served from a child process gives the same vectors as in-process, runs on
TensorFlow Lite like the CLI, and the parent never imports a runtime."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_same_vectors_as_in_process_and_no_runtime_in_parent() -> None:
    code = r"""
import sys
import numpy as np
from imgfinder.model.process_embedder import ProcessEmbedder
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(3, 160, 160, 3), dtype=np.uint8)
e = ProcessEmbedder()
vectors = e.embed(images)
assert vectors.shape == (3, e.dim) and vectors.dtype == np.float32
assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
heavy = [m for m in ("tensorflow", "keras", "ai_edge_litert") if m in sys.modules]
assert not heavy, f"the parent imported {heavy}"
np.save(sys.argv[1], vectors)
print(e.model_id)
e.close()
assert not e.loaded
"""
    import tempfile
    from pathlib import Path

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "v.npy"
        proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "/rt-tflite-float32@" in proc.stdout  # the child runs the CLI's runtime
        assert "XNNPACK" not in proc.stderr, proc.stderr
        from imgfinder.model.tflite_embedder import TFLiteEmbedder

        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(3, 160, 160, 3), dtype=np.uint8)
        np.testing.assert_allclose(np.load(out), TFLiteEmbedder().embed(images), atol=1e-5)


def test_the_child_runs_the_keras_model_when_asked() -> None:
    import numpy as np

    from imgfinder.model.process_embedder import ProcessEmbedder

    e = ProcessEmbedder(tflite_path=None)
    try:
        assert "/rt-keras/" in e.model_id
        assert e.embed(np.zeros((1, 160, 160, 3), np.uint8)).shape == (1, e.dim)
    finally:
        e.close()


def test_errors_in_the_child_are_reported() -> None:
    import numpy as np

    from imgfinder.model.process_embedder import ProcessEmbedder

    e = ProcessEmbedder()
    try:
        with pytest.raises(RuntimeError, match="embedding failed"):
            e.embed(np.zeros((1, 100, 100, 3), np.uint8))  # wrong size: the child refuses it
        assert e.embed(np.zeros((1, 160, 160, 3), np.uint8)).shape == (1, e.dim)  # still serving
    finally:
        e.close()
