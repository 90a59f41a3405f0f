"""A merge the 64 px layout decided (a photo too smooth for keypoints) does not join two
detailed photos whose own features have no fit (``DuplicateFinder._merge_confirmed``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from imgfinder.core.catalog import FileRow
from imgfinder.core.copy_proof import POOR_KEYPOINTS
from imgfinder.core.duplicates import DuplicateFinder
from imgfinder.core.grouping import complete_linkage_groups

RICH, SMOOTH = 500, 0


@dataclass
class Counted:
    count: int  # all ``copy_proof.feature_poor`` reads


class FakeCheck:
    """A ``LocalCheck`` whose features are keypoint counts and whose proofs are a set."""

    def __init__(self, counts: list[int], proven: set[frozenset[int]]) -> None:
        self.counts, self.proven = counts, proven
        self.asked: list[tuple[int, int]] = []

    def features(self, i: int) -> Counted:
        return Counted(self.counts[i])

    def copies(self, i: int, j: int) -> bool:
        self.asked.append((i, j))
        return frozenset((i, j)) in self.proven

    def has_proof(self, i: int, j: int) -> bool:
        return False

    def flush(self) -> None:
        pass


def _finder(tmp_path: Path, counts: list[int], proven: set[frozenset[int]], layout_says: set[frozenset[int]]):
    rows = [FileRow(i, str(tmp_path / f"{i}.jpg"), 1000 + i, 0, f"h{i}", 640, 480, None) for i in range(len(counts))]
    vectors = np.ones((len(rows), 4), np.float32) / 2
    finder = DuplicateFinder(rows, vectors, local=False, workers=1)
    check = FakeCheck(counts, proven)
    finder.local_check = check

    def locally(i: int, j: int) -> bool:  # the real rule's two branches, the layout's answer given
        if min(counts[i], counts[j]) < POOR_KEYPOINTS:
            return frozenset((i, j)) in layout_says
        return check.copies(i, j)

    finder._locally_copies = locally
    finder._pairs = [(0, 1, 0.99), (1, 2, 0.98), (0, 2, 0.97)]
    return finder, check


def _groups(finder) -> list[list[int]]:
    """The grouping as ``DuplicateFinder.iter_groups`` runs it with local features: its
    proof for the merging pair, the camera's veto for every pair, its merge confirmation."""
    return sorted(complete_linkage_groups(
        finder.vectors, finder._pairs, 0.9, None, finder._locally_copies,
        every_pair=lambda i, j: True, confirm_merge=finder._merge_confirmed))


def test_the_duplicate_search_asks_its_merge_confirmation(tmp_path: Path, monkeypatch) -> None:
    from imgfinder.core import duplicates

    seen = {}
    real = duplicates.iter_complete_linkage_groups

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(duplicates, "iter_complete_linkage_groups", spy)
    rows = [FileRow(i, str(tmp_path / f"{i}.jpg"), 1000 + i, 0, f"h{i}", 640, 480, None) for i in range(2)]
    finder = DuplicateFinder(rows, np.ones((2, 4), np.float32) / 2, layouts=None, local=True, workers=1)
    list(finder.iter_groups(0.9, shots=False))
    assert seen["confirm_merge"] == finder._merge_confirmed


def test_a_smooth_photo_does_not_join_two_different_detailed_photos(tmp_path: Path) -> None:
    # 0 and 2 are detailed and have no fit; 1 is smooth and its layout resembles both.
    finder, check = _finder(tmp_path, [RICH, SMOOTH, RICH], proven=set(),
                            layout_says={frozenset((0, 1)), frozenset((1, 2))})
    assert _groups(finder) == [[0, 1]]
    assert (0, 2) in check.asked or (2, 0) in check.asked  # the cross pair was asked for a proof


def test_a_smooth_copy_joins_a_proven_group(tmp_path: Path) -> None:
    # 0 and 2 prove one picture; 1 (a heavily blurred copy, say) joins through the layout.
    finder, _ = _finder(tmp_path, [RICH, SMOOTH, RICH], proven={frozenset((0, 2))},
                        layout_says={frozenset((0, 1)), frozenset((1, 2))})
    assert _groups(finder) == [[0, 1, 2]]


def test_copies_with_keypoints_only_on_their_edit_do_not_keep_a_smooth_copy_apart(tmp_path: Path) -> None:
    # A smooth wallpaper (1) and its bordered (0) and watermarked (2) copies: 0 and 2 have
    # some keypoints (on the border, the text) and do not prove each other; too few to count.
    finder, _ = _finder(tmp_path, [60, SMOOTH, 80], proven=set(),
                        layout_says={frozenset((0, 1)), frozenset((1, 2))})
    assert _groups(finder) == [[0, 1, 2]]


def test_two_smooth_photos_are_decided_by_the_layout_alone(tmp_path: Path) -> None:
    # Nothing has keypoints: the layout decides, as before local features.
    finder, check = _finder(tmp_path, [SMOOTH, SMOOTH, SMOOTH], proven=set(),
                            layout_says={frozenset((0, 1)), frozenset((1, 2)), frozenset((0, 2))})
    assert _groups(finder) == [[0, 1, 2]]
    assert check.asked == []


def test_one_proven_cross_pair_is_enough(tmp_path: Path) -> None:
    # 0 and 2 prove each other, 3 (a heavy crop of 0, say) proves 0 but not 2; 1 is smooth.
    finder, check = _finder(tmp_path, [RICH, SMOOTH, RICH, RICH], proven={frozenset((0, 2)), frozenset((0, 3))},
                            layout_says={frozenset((1, 3)), frozenset((0, 1))})
    finder._pairs = [(0, 2, 0.99), (1, 3, 0.98), (0, 1, 0.97), (1, 2, 0.96), (2, 3, 0.95), (0, 3, 0.94)]
    # {0, 2} proven; {1, 3} through the layout; the groups meet through (0, 1), smooth: the
    # cross pairs of detailed photos are (0, 3) proven and (2, 3) not: one is enough.
    assert _groups(finder) == [[0, 1, 2, 3]]


def test_a_merge_through_a_proven_pair_asks_nothing_more(tmp_path: Path) -> None:
    finder, check = _finder(tmp_path, [RICH, RICH, RICH], proven={frozenset((0, 1)), frozenset((1, 2))},
                            layout_says=set())
    assert _groups(finder) == [[0, 1, 2]]
    assert sorted(tuple(sorted(p)) for p in check.asked) == [(0, 1), (1, 2)]  # not (0, 2)


@pytest.mark.parametrize("confirm", [True, False])
def test_grouping_keeps_groups_apart_when_a_merge_is_not_confirmed(confirm: bool) -> None:
    vectors = np.ones((3, 4), np.float32) / 2
    asked = []

    def confirm_merge(a, b, i, j) -> bool:
        asked.append((sorted(a), sorted(b), i, j))
        return confirm

    groups = complete_linkage_groups(vectors, [(0, 1, 0.99), (1, 2, 0.98)], 0.9, None, lambda i, j: True,
                                     every_pair=lambda i, j: True, confirm_merge=confirm_merge)
    assert groups == ([[0, 1, 2]] if confirm else [])
    assert asked[0] == ([0], [1], 0, 1)
