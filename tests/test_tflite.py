"""The app's model on TensorFlow Lite: the shipped file is what the converter makes, it computes
the Keras model's descriptors, it never imports TensorFlow, and the ids name the runtime."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import small_copy

from imgfinder.model.copy_projection import DIM
from imgfinder.model.tflite_embedder import TFLiteEmbedder, TFLiteModelError, metadata_path, read_metadata
from imgfinder.shipped import BACKBONE_FILE, resource_path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = resource_path(BACKBONE_FILE)


def pixels(paths: list[Path], size: int = 160) -> np.ndarray:
    from imgfinder.core.decoder import decode_for_model

    return np.stack([decode_for_model(str(p), size).pixels for p in paths])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def tflite() -> TFLiteEmbedder:
    from imgfinder.embedders import default_head, default_whitening

    embedder = TFLiteEmbedder(head_path=default_head(), whitening_path=default_whitening())
    embedder.load()
    return embedder


def copy_model(tmp_path: Path, **meta_changes: Any) -> Path:
    """The shipped model and its metadata in ``tmp_path``, the metadata changed as asked."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / SHIPPED.name
    shutil.copyfile(SHIPPED, target)
    meta = read_metadata(SHIPPED) | meta_changes
    metadata_path(target).write_text(json.dumps(meta))
    return target


# --------------------------------------------------------------------------- #
# the shipped file and its metadata
# --------------------------------------------------------------------------- #


def test_shipped_model_matches_its_metadata_and_the_installed_weights() -> None:
    from imgfinder.model.efficientnet_lite import ARCH_ID
    from imgfinder.model.weights import backbone_weights_path, file_fingerprint

    meta = read_metadata(SHIPPED)
    assert meta["arch"] == ARCH_ID and meta["input_size"] == 160 and meta["precision"] == "float32"
    assert meta["tflite_sha256"] == file_fingerprint(SHIPPED, length=64)
    assert meta["tflite_bytes"] == SHIPPED.stat().st_size < 14_000_000
    assert meta["weights_sha256"] == file_fingerprint(backbone_weights_path(), length=64)
    assert meta["check_vs_keras"]["min_cosine"] > 0.99999


def test_ids_name_the_runtime_and_keep_the_float32_descriptor() -> None:
    from imgfinder.model.keras_embedder import KerasEmbedder

    t, k = TFLiteEmbedder(), KerasEmbedder()
    assert t.input_size == 160 and t.dim == 1280 and not t.loaded
    # float32 computes the Keras numbers: same descriptors, so no photo is decoded again ...
    assert t.feature_id == k.feature_id and t.retrieval_id == k.retrieval_id
    assert t.feature_id.startswith("efficientnet-lite0-keras-v1/efficientnet-lite0-imagenet@57934424")
    # ... but the copy vectors' id says which runtime made them.
    assert "/rt-tflite-float32@" in t.model_id and "/rt-keras/" in k.model_id and t.model_id != k.model_id
    assert t.model_id.endswith("/l2")


def test_another_precision_gets_its_own_descriptor_id(tmp_path: Path) -> None:
    float_model = TFLiteEmbedder()
    int8 = TFLiteEmbedder(tflite_path=copy_model(tmp_path, precision="int8"))
    assert int8.feature_id != float_model.feature_id and "/tflite-int8@" in int8.feature_id
    assert int8.model_id != float_model.model_id and int8.retrieval_id != float_model.retrieval_id


def test_unusable_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TFLiteModelError, match="convert it again"):
        TFLiteEmbedder(tflite_path=copy_model(tmp_path / "a", arch="efficientnet-lite0-keras-v0"))
    with pytest.raises(ValueError, match="160 px"):
        TFLiteEmbedder(input_size=224)
    lonely = tmp_path / "b" / "x.tflite"
    lonely.parent.mkdir()
    shutil.copyfile(SHIPPED, lonely)
    with pytest.raises(TFLiteModelError, match="missing"):
        TFLiteEmbedder(tflite_path=lonely)
    changed = copy_model(tmp_path / "c")
    with open(changed, "r+b") as f:  # one byte of the weights flipped
        f.seek(SHIPPED.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    embedder = TFLiteEmbedder(tflite_path=changed)
    with pytest.raises(TFLiteModelError, match="does not match its metadata"):
        embedder.embed(np.zeros((1, 160, 160, 3), np.uint8))


def test_the_environment_picks_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from imgfinder import embedders
    from imgfinder.model.keras_embedder import KerasEmbedder

    monkeypatch.delenv(embedders.BACKBONE_ENV_VAR, raising=False)
    assert isinstance(embedders.default_embedder(), TFLiteEmbedder)
    monkeypatch.setenv(embedders.BACKBONE_ENV_VAR, "none")
    keras = embedders.default_embedder()
    assert isinstance(keras, KerasEmbedder) and not keras.loaded
    other = copy_model(tmp_path)
    monkeypatch.setenv(embedders.BACKBONE_ENV_VAR, str(other))
    chosen = embedders.default_embedder()
    assert isinstance(chosen, TFLiteEmbedder) and chosen.tflite_path == other
    monkeypatch.setenv(embedders.BACKBONE_ENV_VAR, str(tmp_path / "nothing.tflite"))
    with pytest.raises(embedders.MissingResourceError, match="IMGFINDER_BACKBONE_TFLITE"):
        embedders.default_embedder()


# --------------------------------------------------------------------------- #
# inference
# --------------------------------------------------------------------------- #


@pytest.mark.slow
def test_batches_turns_and_chunks(tflite: TFLiteEmbedder, photo_paths: list[Path]) -> None:
    """Any batch size and any split into interpreter calls give the same numbers; the four
    turns make a turned photo embed like the original."""
    x = pixels(photo_paths[:5])
    whole = tflite.describe(x)
    assert whole.shape == (5, 1280) and whole.dtype == np.float32
    np.testing.assert_allclose(tflite.describe(x[2:3])[0], whole[2], atol=1e-6)
    tflite.batch_size = 2
    try:
        np.testing.assert_allclose(tflite.describe(x), whole, atol=1e-6)
    finally:
        tflite.batch_size = 32
    turned = np.ascontiguousarray(np.rot90(x, 1, axes=(1, 2)))
    np.testing.assert_allclose(tflite.describe(turned), whole, atol=2e-5)
    v = tflite.embed(x)
    assert v.shape == (5, DIM)  # the shipped copy head's length
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    assert tflite.embed(np.zeros((0, 160, 160, 3), np.uint8)).shape == (0, DIM)
    with pytest.raises(ValueError):
        tflite.embed(np.zeros((1, 224, 224, 3), np.uint8))


@pytest.mark.slow
def test_same_descriptors_as_keras_on_the_committed_photos(tflite: TFLiteEmbedder, photo_paths: list[Path]) -> None:
    from imgfinder.embedders import default_head, default_whitening
    from imgfinder.model.keras_embedder import KerasEmbedder

    x = pixels(photo_paths)
    keras = KerasEmbedder(head_path=default_head(), whitening_path=default_whitening())
    a, b = tflite.describe(x), keras.describe(x)
    assert len(a) == 16
    assert cosines(a, b).min() >= 0.9999
    assert np.abs(a - b).max() < 1e-4  # descriptor entries are ~0.01-0.1; float16 storage rounds at ~1e-4
    assert cosines(tflite.copy_vectors(a), keras.copy_vectors(b)).min() >= 0.9999
    assert cosines(tflite.retrieval_vectors(a), keras.retrieval_vectors(b)).min() >= 0.9999


NO_TENSORFLOW = r"""
import sys
from pathlib import Path
import numpy as np
from imgfinder.cli import main
from imgfinder.core.decoder import decode_for_model
from imgfinder.embedders import default_embedder
photos, data = sys.argv[1], sys.argv[2]
embedder = default_embedder()
x = np.stack([decode_for_model(str(p), embedder.input_size).pixels for p in sorted(Path(photos).glob("*.jpg"))[:2]])
assert embedder.embed(x).shape == (2, embedder.dim)
assert main(["index", photos, "--data-dir", data, "--quiet"]) == 0
assert main(["similar", str(sorted(Path(photos).glob("*.jpg"))[0]), "--data-dir", data, "--quiet"]) == 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "torch"))
assert not heavy, heavy
assert "ai_edge_litert" in sys.modules
print("MODEL", embedder.model_id)
"""


@pytest.mark.slow
def test_embedding_and_the_cli_never_import_tensorflow(photo_paths: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for p in photo_paths[:3]:
        small_copy(p, folder / p.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGFINDER_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW, str(folder), str(tmp_path / "data")],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "rt-tflite-float32@" in proc.stdout
    assert "XNNPACK" not in proc.stderr and "INFO:" not in proc.stderr, proc.stderr


# --------------------------------------------------------------------------- #
# conversion
# --------------------------------------------------------------------------- #


@pytest.mark.slow
def test_conversion_is_reproducible_and_makes_the_shipped_file() -> None:
    """Two conversions give the same bytes; the shipped file is those bytes (or, with another
    TensorFlow version, a file with the same outputs)."""
    from imgfinder.model.tflite_convert import INPUT_SIZE, _keras_backbone, check_inputs, convert_backbone, run_tflite

    model = _keras_backbone(None, INPUT_SIZE)
    first, second = convert_backbone(model), convert_backbone(model)
    assert first == second
    shipped = SHIPPED.read_bytes()
    if first != shipped:
        views = check_inputs().astype(np.float32)
        np.testing.assert_allclose(run_tflite(first, views), run_tflite(shipped, views), atol=1e-5)
