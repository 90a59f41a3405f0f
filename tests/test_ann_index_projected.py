"""The projected Annoy index: principal directions + exact re-ranking on the full vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from imgfinder.core.ann_index import PROJECTED_DIM, IndexStore, default_search_k


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 20, 32)) * 2
    z = centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, 32))
    v = np.maximum(z @ rng.standard_normal((32, dim)) - 0.2, 0) + 0.05 * rng.random((n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_projected_index_finds_exact_neighbours_with_exact_scores(tmp_path: Path) -> None:
    vectors = clustered(3000, 300)
    ids = np.arange(3000, dtype=np.int64) * 7 + 5
    store = IndexStore(tmp_path)
    store.build(ids, vectors, "m", 3, trees=16, project_min_count=0)
    manifest = json.loads(store.manifest_path.read_text())
    assert manifest["projected_dim"] == PROJECTED_DIM and store.is_current("m", 3)
    index = store.load()
    assert index is not None and index.projection is not None and index.projection.shape == (300, PROJECTED_DIM)
    rng = np.random.default_rng(1)
    hits = 0
    for q in vectors[rng.choice(3000, 50, replace=False)] + 0.01 * rng.standard_normal((50, 300)).astype(np.float32):
        got_ids, scores = index.query_vector(q, 10, exact=False)  # the trees, not the exact scan
        qn = q / np.linalg.norm(q)
        exact = np.argsort(-(vectors @ qn))[:10]
        hits += len(set(got_ids.tolist()) & set(ids[exact].tolist()))
        assert np.all(np.diff(scores) <= 1e-6)  # best first
        positions = [index.position_of(i) for i in got_ids]
        np.testing.assert_allclose(scores, np.clip(vectors[positions] @ qn, 0, 1), atol=1e-5)
    assert hits / 500 >= 0.95
    nearest = index.query_position(17, 5)
    assert nearest[0] == 17 and len(nearest) == 5
    index.unload()


def test_small_or_short_vectors_are_not_projected(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    store.build(np.arange(50), clustered(50, 300), "m", 1)  # fewer than PROJECT_MIN_COUNT
    assert store.load().projection is None
    store.build(np.arange(3000), clustered(3000, 64), "m", 2, project_min_count=0)  # already short
    assert store.load().projection is None


def test_an_index_from_the_previous_format_is_rebuilt(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    store.build(np.arange(20), clustered(20, 300), "m", 1)
    old = json.loads(store.manifest_path.read_text())
    old["version"] = 1
    store.manifest_path.write_text(json.dumps(old))
    assert not store.is_current("m", 1) and store.load() is None


def test_default_search_k_scales_with_the_index() -> None:
    assert default_search_k(10, 100_000, projected=False) == -1
    assert default_search_k(10, 100_000, projected=True) == 40_000
    assert default_search_k(10, 1_000, projected=True) == 1_000
    assert default_search_k(10, 10_000_000, projected=True) == 50_000


def test_duplicates_on_a_projected_index_match_an_unprojected_one(tmp_path: Path) -> None:
    from imgfinder.core.catalog import FileRow
    from imgfinder.core.duplicates import DuplicateFinder

    rng = np.random.default_rng(5)
    vectors = clustered(2000, 300, seed=3)
    # 100 planted near-duplicate pairs, and one byte-identical copy.
    for a in range(0, 200, 2):
        v = vectors[a] + 0.01 * rng.standard_normal(300).astype(np.float32)
        vectors[a + 1] = v / np.linalg.norm(v)
    vectors[1999] = vectors[1998]
    ids = np.arange(1, 2001, dtype=np.int64)
    rows = [FileRow(int(i), f"/p/{i}.jpg", 1000 + int(i), 1, "same" if i >= 1999 else f"h{i}", 10, 10, None) for i in ids]
    results = []
    for name, minimum in (("flat", 10**9), ("projected", 0)):
        store = IndexStore(tmp_path / name)
        store.build(ids, vectors, "m", 1, trees=16, project_min_count=minimum)
        index = store.load()
        assert (index.projection is not None) == (name == "projected")
        finder = DuplicateFinder(rows, vectors)
        list(finder.compute_candidates(index, floor=0.8))
        groups = {tuple(sorted(m.row.id for m in g.members)) for g in finder.groups(0.9)}
        results.append(groups)
        index.unload()
    assert results[0] == results[1]
    for a in range(0, 200, 2):
        assert any(a + 1 in g and a + 2 in g for g in results[1])
    assert (1999, 2000) in results[1]
