import numpy as np

from imgfinder.core.grouping import VerificationStats, complete_linkage_groups, knn_candidate_pairs


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


def test_with_the_layout_check_a_member_joins_through_one_pair_at_the_threshold() -> None:
    # 0: an original; 1 and 2: two heavy edits of it, each at cos 0.92 with 0 but at
    # 0.70 with each other (a greyscale and a bordered copy). Every pair lines up.
    v = unit(0, 23, -23)
    pairs = [(i, j, float(v[i] @ v[j])) for i in range(3) for j in range(i + 1, 3)]
    assert float(v[1] @ v[2]) < 0.85 - 0.1
    lines_up = lambda i, j: True  # noqa: E731
    assert complete_linkage_groups(v, pairs, 0.85, same_picture=lines_up) == [[0, 1, 2]]
    # Without the pixel check the vectors must carry the whole clique: 1 and 2 stay apart.
    groups = complete_linkage_groups(v, pairs, 0.85)
    assert len(groups) == 1 and len(groups[0]) == 2 and 0 in groups[0]
    # A pair below the cross floor keeps its photos apart even when the pixels line up.
    groups = complete_linkage_groups(v, pairs, 0.85, same_picture=lines_up, cross_floor=0.8)
    assert len(groups) == 1 and len(groups[0]) == 2


def test_every_pair_must_line_up_and_one_pair_of_each_merge_must_link() -> None:
    v = unit(0, 5, 10)
    pairs = [(i, j, float(v[i] @ v[j])) for i in range(3) for j in range(i + 1, 3)]
    # 2 lines up with 0 but not with 1: it cannot join the group {0, 1}.
    not_1_2 = lambda i, j: {i, j} != {1, 2}  # noqa: E731
    assert complete_linkage_groups(v, pairs, 0.9, same_picture=not_1_2) == [[0, 1]]
    # Every pair lines up, but only pairs with 0 pass the stricter detail test: 1 and 2
    # join through 0, which a merge of {0, 1} with {2} finds among its cross pairs.
    with_0 = lambda i, j: 0 in (i, j)  # noqa: E731
    assert complete_linkage_groups(v, pairs, 0.9, same_picture=lambda i, j: True, link=with_0) == [[0, 1, 2]]
    # No pair passes the stricter test: no group, and each failure spends the budget.
    stats = VerificationStats()
    assert complete_linkage_groups(v, pairs, 0.9, same_picture=lambda i, j: True, link=lambda i, j: False,
                                   stats=stats) == []
    assert stats.failed == 3


def test_a_photo_in_a_group_is_exempt_from_the_failed_check_budget() -> None:
    # 0-3: copies of one picture, joined as {0, 1} and {2, 3} first; 4-9: other shots of
    # the scene, closer to 2 and 3 than 0 and 1 are, all failing the pixel check. The
    # failures against 4-9 come before the weaker pairs that join the two halves: had they
    # spent 2's and 3's budgets, one picture's copies would stay split in two groups.
    v = unit(0, 0.1, 3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7)
    pairs = [(i, j, float(v[i] @ v[j])) for i in range(10) for j in range(i + 1, 10)]
    copies = {0, 1, 2, 3}
    same = lambda i, j: i in copies and j in copies  # noqa: E731
    stats = VerificationStats()
    assert complete_linkage_groups(v, pairs, 0.99, same_picture=same, max_failed=2, stats=stats) == [[0, 1, 2, 3]]
    assert stats.failed > 2 * 2  # 2 and 3 failed more checks than the budget allows a photo in no group
    # A photo in no group still has its budget: 4-9 are not checked against each other forever.
    assert stats.skipped > 0
