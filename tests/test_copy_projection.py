"""The closed-form copy head: what edits change stops counting, what tells photos apart stays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imgfinder.model.copy_projection import fit_copy_projection, within_differences
from imgfinder.model.embedder_base import load_head


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _data(seed: int = 0, photos: int = 60, views: int = 5, dim: int = 48):
    """Photos = random centres; views = centre + a strong edit along a few fixed
    directions (the "edits") + small noise. Greyscale-like nuisance: one more direction
    that the views never show, given only as (edited - plain) differences."""
    kinds = np.random.default_rng(100)  # the kinds of edit are the same for every set of photos
    edit_dirs = kinds.normal(size=(3, dim))
    grey_dir = kinds.normal(size=dim)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(photos, dim))
    feats, sources = [], []
    for p in range(photos):
        for _ in range(views):
            feats.append(centres[p] + 2.0 * rng.normal(size=3) @ edit_dirs + 0.05 * rng.normal(size=dim))
            sources.append(p)
    grey = np.stack([3.0 * grey_dir + 0.05 * rng.normal(size=dim) for _ in range(photos)])
    return np.asarray(feats), np.asarray(sources), centres, edit_dirs, grey_dir, grey


def _head(kernel: np.ndarray, bias: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _unit(x @ kernel + bias)


def test_within_differences_remove_each_source_mean() -> None:
    x = np.array([[1.0, 0], [3.0, 0], [0, 5.0]])
    d = within_differences(x, np.array([7, 7, 2]))
    np.testing.assert_allclose(sorted(map(tuple, d)), [(-1.0, 0.0), (0.0, 0.0), (1.0, 0.0)])


def test_copies_join_and_photos_stay_apart_on_photos_it_never_saw() -> None:
    feats, sources, *_ = _data(0)
    kernel, bias = fit_copy_projection(feats, sources, dim=16, regularisation=0.01)
    test, test_sources, *_ = _data(1)  # other photos, edited the same ways
    same = test_sources[:, None] == test_sources[None, :]
    other = ~same
    np.fill_diagonal(same, False)
    raw = _unit(test) @ _unit(test).T
    # Without the head, an edit moves a copy farther than other photos are.
    assert np.median(raw[same]) < np.percentile(raw[other], 99)
    # With it, every copy is closer to its photo's other copies than any other photo is.
    e = _head(kernel, bias, test)
    sims = e @ e.T
    assert sims[same].min() > 0.9 > sims[other].max()


def test_weighted_nuisance_pairs_teach_an_edit_the_views_never_show() -> None:
    feats, sources, _, _, grey_dir, grey = _data(0)
    photos = _data(1)[2]
    plain, greyed = photos, photos + 3.0 * grey_dir
    without = fit_copy_projection(feats, sources, dim=16, regularisation=0.01)
    with_grey = fit_copy_projection(feats, sources, [(grey, 3.0)], dim=16, regularisation=0.01)

    def copy_cos(head: tuple[np.ndarray, np.ndarray]) -> float:
        a, b = _head(*head, plain), _head(*head, greyed)
        return float(np.median(np.sum(a * b, axis=1)))

    assert copy_cos(with_grey) > 0.95 > copy_cos(without)


def test_the_fit_is_a_head_file_the_app_loads_and_is_reproducible(tmp_path: Path) -> None:
    feats, sources, *_ = _data(3, dim=1280, photos=20, views=3)
    kernel, bias = fit_copy_projection(feats, sources, dim=8)
    again = fit_copy_projection(feats, sources, dim=8)
    np.testing.assert_array_equal(kernel, again[0])
    np.testing.assert_allclose(bias, -(feats.mean(axis=0) @ kernel), rtol=1e-4, atol=1e-4)
    np.savez(tmp_path / "head.npz", kernel_0=kernel, bias_0=bias)
    assert [k.shape for k, _ in load_head(tmp_path / "head.npz")] == [(1280, 8)]
    with pytest.raises(ValueError):
        fit_copy_projection(feats[:1], sources[:1])
    with pytest.raises(ValueError):
        fit_copy_projection(feats, sources, dim=2000)


@pytest.mark.slow
def test_training_command_fits_the_closed_form_by_default(tmp_path: Path, photo_paths) -> None:
    from conftest import small_copy

    from imgfinder.model import train

    folder = tmp_path / "photos"
    for p in photo_paths[:3]:
        small_copy(p, folder / p.name, max_side=400)
    out = tmp_path / "head.npz"
    (tmp_path / "head.loss.csv").write_text("step,loss\n1,9\n")  # left from an earlier run
    assert train.main(["--photos", str(folder), "--out", str(out), "--windows", "2", "--views", "2",
                       "--cache", str(tmp_path / "cache")]) == 0
    layers = load_head(out)
    assert [k.shape for k, _ in layers] == [(1280, 64)]
    report = json.loads((tmp_path / "head.train.json").read_text())
    assert report["head"] == "closed form" and report["final_loss"] is None
    assert not (tmp_path / "head.loss.csv").exists()  # no curve describes a head no loop trained
    assert list((tmp_path / "cache").glob("nuisance-*.npz"))  # the greyscale/re-lit pairs are cached
