import numpy as np

from imgfinder.core.grouping import complete_linkage_groups, knn_candidate_pairs


def unit(*angles_deg: float) -> np.ndarray:
    a = np.radians(angles_deg)
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


def test_no_chaining_through_a_path_of_pairs() -> None:
    # Points 10 degrees apart on a circle: each is close to its neighbours (cos 10 = 0.985)
    # but the ends of the chain are 40 degrees apart (cos 40 = 0.77).
    v = unit(0, 10, 20, 30, 40)
    pairs = [(i, i + 1, float(v[i] @ v[i + 1])) for i in range(4)]
    groups = complete_linkage_groups(v, pairs, threshold=0.95)
    assert all(len(g) <= 2 for g in groups)
    # Every member of every group is above the threshold with every other member.
    for g in groups:
        sims = v[g] @ v[g].T
        assert sims.min() >= 0.95


def test_clique_is_grouped_and_outlier_kept_out() -> None:
    v = unit(0, 1, 2, 3, 90)
    pairs = [(i, j, float(v[i] @ v[j])) for i in range(5) for j in range(i + 1, 5)]
    assert complete_linkage_groups(v, pairs, threshold=0.99) == [[0, 1, 2, 3]]


def test_cannot_link_veto() -> None:
    v = unit(0, 1)
    groups = complete_linkage_groups(v, [(0, 1, 0.999)], 0.9, cannot_link=lambda a, b: True)
    assert groups == []


def test_knn_candidates_grow_k_for_big_clusters() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=16)
    v = base + 0.01 * rng.normal(size=(50, 16))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v = v.astype(np.float32)

    def neighbours(i: int, k: int) -> np.ndarray:
        return np.argsort(-(v @ v[i]))[:k]

    pairs = knn_candidate_pairs(v, neighbours, floor=0.9, k=4)
    # Without growing k, each row would only see 4 neighbours (at most 50*4 pairs).
    assert len(pairs) == 50 * 49 // 2
    assert complete_linkage_groups(v, pairs, 0.9) == [list(range(50))]
