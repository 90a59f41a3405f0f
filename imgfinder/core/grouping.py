"""Turn similar pairs into duplicate groups without chaining unrelated photos together.

Single-linkage grouping (connected components of the "similar" graph) lets A~B, B~C,
C~D put A and D in one group although they share nothing: bursts and gradual edits
chain whole folders together. We use complete linkage instead: pairs are merged
strongest first, and two groups join only if *every* cross pair is above the threshold,
checked on the exact vectors. Every group is therefore a clique: each member is a
duplicate of each other member, which is what a user expects when told "these are the
same photo". Only candidate pairs from a k-nearest-neighbour search are considered, so
no N-by-N matrix is ever built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

Pair = tuple[int, int, float]


def complete_linkage_groups(
    vectors: np.ndarray,
    pairs: Iterable[Pair],
    threshold: float,
    cannot_link: Callable[[Sequence[int], Sequence[int]], bool] | None = None,
    same_picture: Callable[[int, int], bool] | None = None,
) -> list[list[int]]:
    """Group row indices of ``vectors`` (L2-normalised) from candidate ``pairs``.

    ``pairs`` are (i, j, cosine); those below ``threshold`` are ignored. ``cannot_link``
    may veto a merge (the user said two photos are not duplicates). ``same_picture``, if
    given, must also accept every cross pair of a merge (the layout verification), so a
    group stays a clique of verified duplicates. Returns groups of two or more indices.
    """
    owner: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for i, j, score in sorted(pairs, key=lambda p: -p[2]):
        if score < threshold:
            break
        a = owner.get(i, i)
        b = owner.get(j, j)
        if a == b:
            continue
        group_a = members.get(a, [a])
        group_b = members.get(b, [b])
        if len(group_a) > 1 or len(group_b) > 1:
            cross = np.einsum("ij,kj->ik", vectors[group_a], vectors[group_b])
            if float(cross.min()) < threshold:
                continue
        if cannot_link is not None and cannot_link(group_a, group_b):
            continue
        # Last: the layout check costs milliseconds a pair, the vetoes above microseconds.
        if same_picture is not None and not all(same_picture(x, y) for x in group_a for y in group_b):
            continue
        if len(group_a) < len(group_b):
            a, b, group_a, group_b = b, a, group_b, group_a
        merged = group_a + group_b
        members[a] = merged
        members.pop(b, None)
        for m in group_b:
            owner[m] = a
        owner[a] = a
    return [sorted(g) for g in members.values() if len(g) > 1]


def knn_candidate_pairs(
    vectors: np.ndarray,
    neighbours: Callable[[int, int], np.ndarray],
    floor: float,
    k: int = 16,
    max_k: int = 256,
    rows: Iterable[int] | None = None,
) -> list[Pair]:
    """Candidate pairs (i < j, cosine >= floor) from a k-NN search per row.

    ``neighbours(row, k)`` returns the rows nearest to ``row`` (an Annoy lookup). When
    all k neighbours clear the floor the row may have more, so k is doubled up to
    ``max_k``. Scores are recomputed exactly from ``vectors``.
    """
    pairs: dict[tuple[int, int], float] = {}
    for i in range(len(vectors)) if rows is None else rows:
        want = k
        while True:
            found = neighbours(i, want + 1)
            found = found[found != i]
            if len(found) == 0:
                break
            # einsum, not ``@``: tiny products through threaded BLAS stall on busy cores.
            scores = np.einsum("ij,j->i", vectors[found], vectors[i])
            keep = scores >= floor
            for j, s in zip(found[keep].tolist(), scores[keep].tolist()):
                key = (i, j) if i < j else (j, i)
                pairs[key] = s
            if keep.all() and len(found) >= want and want < max_k:
                want = min(max_k, want * 4)
                continue
            break
    return [(i, j, s) for (i, j), s in pairs.items()]
