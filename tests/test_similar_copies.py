"""Similar results show different photos: a result proven an edited copy of a better one is
folded under it ("+2 copies"), in the core, the CLI and its JSON (``core.similar_copies``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from conftest import FakeEmbedder, small_copy
from imgfinder.cli import main
from imgfinder.core.catalog import FileRow
from imgfinder.core.library import Library, SimilarHit
from imgfinder.core.similar_copies import TRIES, candidate_pairs, fold_copies


def _hit(i: int, score: float) -> SimilarHit:
    return SimilarHit(FileRow(i, f"/p/{i}.jpg", 100, 0, f"h{i}", 10, 10, None), score)


def _unit(*rows: list[float]) -> np.ndarray:
    x = np.array(rows, np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -- the folding rule ---------------------------------------------------------------------
def test_a_proven_copy_joins_the_best_ranked_result_it_copies() -> None:
    hits = [_hit(i, 0.9 - i / 10) for i in range(4)]
    vectors = _unit([1, 0], [0, 1], [1, 0.05], [0.05, 1])  # 2 copies 0, 3 copies 1
    asked = []

    def proves(a: int, b: int) -> bool:
        asked.append((a, b))
        return True

    folded = fold_copies(hits, vectors, proves, 0.75)
    assert [h.row.id for h in folded] == [0, 1]
    assert [c.row.id for c in folded[0].copies] == [2] and [c.row.id for c in folded[1].copies] == [3]
    assert sorted(asked) == [(0, 2), (1, 3)]  # only pairs at the copy vector's threshold


def test_close_vectors_without_a_proof_stay_results_of_their_own() -> None:
    hits = [_hit(i, 0.9) for i in range(3)]
    vectors = _unit([1, 0], [1, 0.01], [1, 0.02])
    folded = fold_copies(hits, vectors, lambda a, b: False, 0.75)
    assert [h.row.id for h in folded] == [0, 1, 2] and not any(h.copies for h in folded)


def test_unknown_vectors_are_never_folded() -> None:
    hits = [_hit(i, 0.9) for i in range(2)]
    vectors = np.zeros((2, 4), np.float32)
    assert [h.row.id for h in fold_copies(hits, vectors, lambda a, b: True, 0.75)] == [0, 1]


def test_each_result_tries_at_most_a_few_earlier_ones() -> None:
    n = TRIES + 3
    hits = [_hit(i, 0.9) for i in range(n)]
    vectors = _unit(*([[1, 0.001 * i] for i in range(n)]))
    asked = []
    fold_copies(hits, vectors, lambda a, b: asked.append((a, b)) or False, 0.75)
    last = [a for a, b in asked if b == n - 1]
    assert len(last) == TRIES
    assert all(len([a for a, b in candidate_pairs(vectors, 0.75) if b == j]) <= TRIES for j in range(n))


# -- through the library and the CLI -------------------------------------------------------
def _edits(src: Path, folder: Path) -> list[Path]:
    with Image.open(src) as img:
        img = img.convert("RGB")
        out = [folder / "copy_small.jpg", folder / "copy_bright.jpg"]
        img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS).save(out[0], quality=80)
        ImageEnhance.Brightness(img).enhance(1.15).save(out[1], quality=90)
    return out


@pytest.fixture
def copies_library(tmp_path: Path, photo_paths: list[Path]) -> tuple[Path, Path, list[Path]]:
    """An original, two edited copies of it, and four other photos; a query photo outside."""
    lib = tmp_path / "lib"
    original = small_copy(photo_paths[0], lib / "original.jpg", max_side=480, quality=95)
    copies = _edits(original, lib)
    for p in photo_paths[1:5]:
        small_copy(p, lib / p.name, max_side=480)
    query = small_copy(photo_paths[0], tmp_path / "outside" / "query.jpg", max_side=400, quality=70)
    return lib, query, [original, *copies]


def test_library_similar_folds_the_copies_of_a_result(tmp_path: Path, copies_library) -> None:
    lib, query, family = copies_library
    with Library(tmp_path / "data", FakeEmbedder()) as library:
        for _ in library.indexer(batch_size=4).run([str(lib)]):
            pass
        flat = library.similar(str(query), k=10, fold=False)
        folded = library.similar(str(query), k=10)
    assert {Path(h.row.path).name for h in flat[:3]} == {p.name for p in family}  # the query's picture first
    assert len(flat) == 7 and not any(h.copies for h in flat)
    head = folded[0]
    assert {head.row.path, *(c.row.path for c in head.copies)} == {str(p) for p in family}
    assert len(folded) == 5 and all(not h.copies for h in folded[1:])  # the others are different photos
    assert [c.score for c in head.copies] == sorted((c.score for c in head.copies), reverse=True)


def test_cli_similar_lists_copies_under_their_photo(tmp_path: Path, copies_library, capsys) -> None:
    lib, query, family = copies_library
    data = str(tmp_path / "data")
    assert main(["index", str(lib), "--data-dir", data, "--quiet"], embedder_factory=FakeEmbedder) == 0
    capsys.readouterr()

    assert main(["similar", str(query), "--data-dir", data, "--json"], embedder_factory=FakeEmbedder) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert len(results) == 5
    assert {results[0]["path"], *(c["path"] for c in results[0]["copies"])} == {str(p) for p in family}
    assert set(results[0]["copies"][0]) == {"path", "score", "exif", "same_files"}
    assert all(r["copies"] == [] for r in results[1:])

    assert main(["similar", str(query), "--data-dir", data], embedder_factory=FakeEmbedder) == 0
    text = capsys.readouterr().out
    assert "+2 edited copies:" in text and text.count("    ") >= 2

    assert main(["similar", str(query), "--data-dir", data, "--json", "--each-copy"],
                embedder_factory=FakeEmbedder) == 0
    flat = json.loads(capsys.readouterr().out)["results"]
    assert len(flat) == 7 and all(r["copies"] == [] for r in flat)

    assert main(["similar", str(query), "--data-dir", data, "--format", "csv"], embedder_factory=FakeEmbedder) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 7
    copies = [r for r in rows if r["copy_of"]]
    assert len(copies) == 2 and all(r["rank"] == "1" and r["copy_of"] == results[0]["path"] for r in copies)

    assert main(["similar", str(query), "--data-dir", data, "--format", "lines"], embedder_factory=FakeEmbedder) == 0
    assert len(capsys.readouterr().out.strip().split("\t")) == 8  # the query, then all 7 files


def test_a_pair_is_proven_once_per_library(tmp_path: Path, copies_library, monkeypatch) -> None:
    """The app's repeated searches and the CLI's several queries decide each pair once."""
    from imgfinder.core.similar_copies import CopyProver

    lib, query, _ = copies_library
    asked: list[tuple[int, int]] = []
    real = CopyProver._proves
    monkeypatch.setattr(CopyProver, "_proves", lambda self, a, b: asked.append((a, b)) or real(self, a, b))
    with Library(tmp_path / "data", FakeEmbedder()) as library:
        for _ in library.indexer(batch_size=4).run([str(lib)]):
            pass
        first = library.similar(str(query), k=10)
        n = len(asked)
        again = library.similar(str(query), k=10)
    assert n > 0 and len(asked) == n
    assert [(h.row.path, [c.row.path for c in h.copies]) for h in again] == \
        [(h.row.path, [c.row.path for c in h.copies]) for h in first]
