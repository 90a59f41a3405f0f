"""core.knn: all near pairs at once (the duplicate search's candidates), against brute force."""

from __future__ import annotations

import numpy as np

from imgfinder.core.grouping import knn_candidate_pairs
from imgfinder.core.knn import PairArrays, near_pairs


def clustered(n: int, dim: int, clusters: int, spread: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    v = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def brute_force(v: np.ndarray, floor: float, cap: int) -> dict[tuple[int, int], float]:
    """Each row's best ``cap`` others >= floor, a pair kept once (i < j)."""
    scores = v @ v.T
    np.fill_diagonal(scores, -np.inf)
    pairs: dict[tuple[int, int], float] = {}
    for i in range(len(v)):
        order = np.argsort(-scores[i], kind="stable")[:cap]
        for j in order[scores[i, order] >= floor].tolist():
            pairs[(min(i, j), max(i, j))] = float(scores[i, j])
    return pairs


def as_dict(p: PairArrays) -> dict[tuple[int, int], float]:
    return {(i, j): s for i, j, s in p}


def test_exact_search_returns_the_brute_force_pairs() -> None:
    v = clustered(1500, 32, 40, 0.35, seed=1)
    for cap in (4, 64):
        got, want = as_dict(near_pairs(v, 0.8, cap)), brute_force(v, 0.8, cap)
        assert len(want) > 1500  # dense enough that the cap matters
        assert set(got) == set(want)
        for key in want:
            assert abs(got[key] - want[key]) < 1e-5
        assert all(i < j for i, j in got)


def test_exact_search_matches_the_per_row_knn_search() -> None:
    """The batched search finds what one exact k-NN query per row finds (k grown as
    ``knn_candidate_pairs`` grows it is at least as much; capped: each row's best)."""
    v = clustered(800, 16, 30, 0.3, seed=2)
    cap = 16

    def neighbours(i: int, k: int) -> np.ndarray:
        return np.argsort(-(v @ v[i]), kind="stable")[:k]

    per_row = {(i, j): s for i, j, s in knn_candidate_pairs(v, neighbours, 0.85, k=cap, max_k=cap)}
    batched = as_dict(near_pairs(v, 0.85, cap))
    assert len(per_row) > 800
    assert set(per_row) == set(batched)
    assert all(abs(per_row[k] - batched[k]) < 1e-5 for k in per_row)


def test_clustered_search_finds_nearly_every_near_pair_with_exact_scores() -> None:
    v = clustered(6000, 24, 300, 0.25, seed=3)
    exact = near_pairs(v, 0.8, 32)
    lists = near_pairs(v, 0.8, 32, exact_max=0)  # force the inverted-list search
    want, got = as_dict(exact), as_dict(lists)
    strong = {k for k, s in want.items() if s >= 0.9}
    assert len(strong) > 1000
    assert len(strong & set(got)) >= 0.99 * len(strong)
    for key in set(got) & set(want):
        assert abs(got[key] - want[key]) < 1e-5  # found pairs carry their exact cosine
    # Nothing below the floor, no self pairs, each pair once.
    assert (lists.s >= 0.8).all() and (lists.i < lists.j).all()
    assert len(set(zip(lists.i.tolist(), lists.j.tolist()))) == len(lists)


def test_pair_arrays_round_trip() -> None:
    pairs = [(0, 3, 0.9), (1, 2, 0.85)]
    arrays = PairArrays.from_pairs(pairs)
    assert list(arrays) == pairs and len(arrays) == 2
    assert len(PairArrays.from_pairs([])) == 0
    assert near_pairs(np.zeros((1, 4), np.float32), 0.8).i.size == 0


def test_finder_candidates_are_the_near_pairs_of_distinct_photos() -> None:
    """``DuplicateFinder.compute_candidates``: one search over the distinct photos (exact
    copies collapse onto one), pairs i < j in row numbers, photos the index does not
    hold left out, progress reported, cancellation honoured."""
    import pytest

    from imgfinder.core.catalog import FileRow
    from imgfinder.core.duplicates import DuplicateFinder
    from imgfinder.core.progress import Cancelled, CancelToken

    v = clustered(400, 16, 20, 0.3, seed=5)
    v[7] = v[3]  # row 7 is a byte-identical copy of row 3 (same hash)
    rows = [FileRow(i, f"/p/{i}.jpg", 100 + i, 1, "same" if i in (3, 7) else f"h{i}", 10, 10, None) for i in range(400)]

    class Index:  # holds every photo but row 11
        def position_of(self, file_id: int) -> int | None:
            return None if file_id == 11 else file_id

    finder = DuplicateFinder(rows, v)
    steps = list(finder.compute_candidates(Index(), floor=0.8, k=4))
    assert steps[-1].done == steps[-1].total == 398  # 400 rows, one exact copy, one not indexed
    got = {(i, j): s for i, j, s in finder._pairs}
    searched = [i for i in range(400) if i not in (7, 11)]
    want = {(searched[a], searched[b]): s for (a, b), s in brute_force(v[searched], 0.8, 16).items()}
    assert set(got) == set(want) and got
    assert all(i < j and 7 not in (i, j) and 11 not in (i, j) for i, j in got)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        list(DuplicateFinder(rows, v).compute_candidates(Index(), cancel=token))
