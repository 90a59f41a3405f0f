"""Full layout checks in worker processes give the groups one process gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photo_versions import rows_with_layouts, shots_with_versions
from imgfinder.core import duplicates
from imgfinder.core.catalog import FileRow
from imgfinder.core.duplicates import DuplicateFinder
from imgfinder.core.layout import Layout, LayoutVerifier, match
from imgfinder.core.parallel_checks import CheckPool
from imgfinder.core.progress import Cancelled, CancelToken


@pytest.fixture(scope="module")
def library(photos_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[FileRow], list[bytes]]:
    """Two shots of each of three photos, each shot with four versions: 24 files."""
    folder = tmp_path_factory.mktemp("versions")
    files = []
    for p in sorted(photos_dir.glob("*.jpg"))[:3]:
        with Image.open(p) as img:
            img = img.convert("RGB")
            img.thumbnail((600, 600))
        files += shots_with_versions(img, ("original", "jpeg50", "rot90", "grey"), folder, prefix=f"{p.stem}_")
    return rows_with_layouts(files)


def _finder(rows, layouts, workers: int) -> DuplicateFinder:
    vectors = np.ones((len(rows), 4), np.float32) / 2  # an embedding that calls everything alike
    finder = DuplicateFinder(rows, vectors, layouts=layouts, workers=workers, local=False)  # the layout checks
    finder._pairs = [(i, j, 1.0) for i in range(len(rows)) for j in range(i + 1, len(rows))]
    return finder


@pytest.mark.parametrize("batch", [4096, 16])
def test_workers_find_the_groups_one_process_finds(library, monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    """One batch, and many (the checks of batch k + 1 run while batch k is merged)."""
    from imgfinder.core import grouping

    rows, layouts = library
    monkeypatch.setattr(duplicates, "PARALLEL_MIN", 1)
    monkeypatch.setattr(grouping, "PREFETCH", batch)
    one = _finder(rows, layouts, workers=1)
    two = _finder(rows, layouts, workers=2)

    def names(finder: DuplicateFinder) -> list[list[str]]:
        return sorted(sorted(Path(m.row.path).name for m in g.members) for g in finder.groups(0.9))

    expected = names(one)
    assert len(expected) == 6 and all(len(g) == 4 for g in expected)  # each shot's four versions
    assert names(two) == expected
    assert two.stats.checked_ahead > 0 and one.stats.checked_ahead == 0
    assert two.stats.checked == one.stats.checked  # the same checks were asked for, in the same order


def test_a_match_from_a_worker_is_the_match_made_here(library) -> None:
    rows, layouts = library
    here = LayoutVerifier(layouts)
    there = LayoutVerifier(layouts)
    pairs = [(0, 1), (0, 4), (2, 9), (5, 3)]
    with CheckPool(2) as pool:
        assert pool.fill(there, [p[0] for p in pairs], [p[1] for p in pairs]) == 4
        assert pool.fill(there, [0], [1]) == 0  # known already
    for i, j in pairs:
        assert there.match(i, j) == here.match(i, j) == match(Layout.from_bytes(layouts[min(i, j)]),
                                                               Layout.from_bytes(layouts[max(i, j)]))
    assert there.checked == 4


def test_a_cancel_stops_the_workers(library) -> None:
    rows, layouts = library
    cancel = CancelToken()
    cancel.cancel()
    with CheckPool(2) as pool, pytest.raises(Cancelled):
        pool.fill(LayoutVerifier(layouts), list(range(12)), list(range(12, 24)), cancel)


def test_pairs_of_linked_photos_come_together() -> None:
    from imgfinder.core.parallel_checks import by_component

    order = by_component({(1, 9), (2, 3), (3, 8), (1, 5), (4, 6)})
    assert order == [(1, 5), (1, 9), (2, 3), (3, 8), (4, 6)]
    assert by_component({(5, 7), (0, 7), (2, 4)}) == [(0, 7), (5, 7), (2, 4)]


@pytest.mark.parametrize("batch", [4096, 16])
def test_with_local_features_the_gate_runs_in_workers_and_decides_the_same(
        library, monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    """With local features, the layout gate's matches of the coming pairs are computed in
    the worker processes while a batch is merged; the groups are the ones one process finds."""
    from imgfinder.core import grouping

    rows, layouts = library
    monkeypatch.setattr(duplicates, "PARALLEL_MIN", 1)
    monkeypatch.setattr(grouping, "PREFETCH", batch)
    submitted = []
    real_submit = CheckPool.submit

    def counted(self, verifier, first, second, cancel=None):
        submitted.append(len(first))
        return real_submit(self, verifier, first, second, cancel)

    monkeypatch.setattr(CheckPool, "submit", counted)

    def run(workers: int) -> tuple[list[list[str]], DuplicateFinder]:
        vectors = np.ones((len(rows), 4), np.float32) / 2
        finder = DuplicateFinder(rows, vectors, layouts=layouts, workers=workers)  # local features
        finder._pairs = [(i, j, 1.0) for i in range(len(rows)) for j in range(i + 1, len(rows))]
        groups = sorted(sorted(Path(m.row.path).name for m in g.members) for g in finder.groups(0.9, shots=False))
        return groups, finder

    expected, one = run(1)
    assert not submitted
    assert len(expected) == 6 and all(len(g) == 4 for g in expected)  # each shot's four versions
    found, two = run(2)
    assert found == expected
    assert sum(submitted) > 0 and two.stats.worker_peak_mb > 0  # the gates ran in the workers
    assert two.local_check.extracted == one.local_check.extracted  # the same photos needed features
