"""The Siamese training pieces: loss, masks, head export/import, and a tiny training run."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import small_copy


def test_contrastive_batch_loss_behaves() -> None:
    from imgfinder.model.siamese import batch_loss

    a = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], np.float32)
    labels = np.array([0, 0, 1, 1])
    allowed = np.ones((4, 4), np.float32)
    perfect = float(batch_loss(a, labels, allowed, margin=1.0))
    assert perfect == pytest.approx(0.0, abs=1e-5)  # positives identical, negatives at d=sqrt(2) > margin
    collapsed = np.array([[1.0, 0.0]] * 4, np.float32)
    assert float(batch_loss(collapsed, labels, allowed, margin=1.0)) > 0.9  # negatives on top of each other
    # Negatives that are not allowed (ambiguous pairs) do not count.
    assert float(batch_loss(collapsed, labels, np.zeros((4, 4), np.float32), margin=1.0)) == pytest.approx(0.0, abs=1e-5)


def test_siamese_towers_share_the_head_and_match_cosine() -> None:
    from imgfinder.model.siamese import build_head, build_siamese

    head = build_head(in_dim=8, hidden=0, out_dim=4, dropout=0.0)
    siamese = build_siamese(head, in_dim=8)
    rng = np.random.default_rng(0)
    fa, fb = rng.normal(size=(5, 8)).astype(np.float32), rng.normal(size=(5, 8)).astype(np.float32)
    d = np.asarray(siamese([fa, fb]))
    ea, eb = np.asarray(head(fa)), np.asarray(head(fb))
    cos = (ea * eb).sum(1)
    np.testing.assert_allclose(d**2, 2 - 2 * cos, atol=1e-5)  # Euclidean and cosine agree on unit vectors


def test_negative_mask_uses_only_unambiguous_pairs() -> None:
    from imgfinder.model.train import ViewSet

    boxes = np.array([[0, 0, 1, 1], [0, 0, 0.4, 1], [0.6, 0, 1, 1], [0.3, 0, 0.7, 1], [0, 0, 1, 1]], np.float32)
    views = ViewSet(np.zeros((5, 3), np.float32), np.arange(5), np.array([0, 0, 0, 0, 1]), boxes, ["a", "b"])
    mask = views.negative_mask(np.arange(5))
    assert mask[1, 2] and mask[2, 1]  # disjoint windows of one photo: hard negative
    assert not mask[0, 1]  # the frame and its own window: ambiguous
    assert not mask[1, 3]  # overlapping windows: ambiguous
    assert mask[0, 4] and mask[3, 4]  # different photos


def test_head_export_roundtrip_into_embedder(tmp_path: Path) -> None:
    from imgfinder.model.keras_embedder import KerasEmbedder, load_head
    from imgfinder.model.siamese import build_head, export_head

    head = build_head(in_dim=1280, hidden=0, out_dim=16, dropout=0.0)
    path = tmp_path / "head.npz"
    export_head(head, path)
    layers = load_head(path)
    assert [k.shape for k, _ in layers] == [(1280, 16)]
    x = np.random.default_rng(1).random((3, 1280)).astype(np.float32)
    expected = np.asarray(head(x))
    embedder = KerasEmbedder(head_path=path)
    got = embedder._apply_head(x.copy())
    got /= np.linalg.norm(got, axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert embedder.dim == 16 and "head@" in embedder.model_id


@pytest.mark.slow
def test_training_command_runs_and_is_reproducible(tmp_path: Path, photo_paths) -> None:
    from imgfinder.model import train

    folder = tmp_path / "photos"
    for p in photo_paths[:3]:
        small_copy(p, folder / p.name, max_side=400)
    outs = []
    for run in range(2):
        out = tmp_path / f"head{run}.npz"
        code = train.main([
            "--photos", str(folder), "--out", str(out), "--windows", "2", "--views", "2", "--steps", "6",
            "--cache", str(tmp_path / "cache"), "--hidden", "0",
        ])
        assert code == 0
        outs.append(np.load(out)["kernel_0"])
    np.testing.assert_array_equal(outs[0], outs[1])  # same seed, same photos: same weights
    report = json.loads((tmp_path / "head1.train.json").read_text())
    assert report["final_loss"] >= 0 and (tmp_path / "head1.loss.png").stat().st_size > 0
    assert (tmp_path / "head1.loss.csv").read_text().startswith("step,loss")
