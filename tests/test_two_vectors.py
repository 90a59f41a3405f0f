"""Two vectors from one pass: the stored descriptor gives the copy vector (duplicates) and
the retrieval vector (similar search); changing either never decodes a photo again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from imgfinder.cli import main
from imgfinder.core.embedding import l2_normalise
from imgfinder.core.library import Library


class DescribingFake:
    """Descriptor: 4x4 grey layout (16-d) + mean colour (3-d).

    The copy vector is the layout part (through a "head" matrix, so a new head changes
    ``model_id``); the retrieval vector is the mean colour only, so similar search and
    duplicates rank differently and a test can tell which one was used.
    """

    input_size = 64
    dim = 16

    def __init__(self, head_seed: int = 0, retrieval: str = "colour") -> None:
        self.feature_id = "fake-descriptor-v1"
        self.model_id = f"{self.feature_id}/head{head_seed}"
        self.retrieval_id = f"{self.feature_id}/{retrieval}"
        rng = np.random.default_rng(head_seed)
        self.head = np.eye(16, dtype=np.float32) + 0.05 * rng.normal(size=(16, 16)).astype(np.float32)
        self.retrieval = retrieval
        self.described = 0

    def describe(self, images: np.ndarray) -> np.ndarray:
        self.described += len(images)
        x = images.astype(np.float32).mean(axis=3).reshape(len(images), 4, 16, 4, 16).mean(axis=(2, 4))
        x = x.reshape(len(images), -1)
        colour = images.astype(np.float32).mean(axis=(1, 2))
        return np.concatenate([x - x.mean(axis=1, keepdims=True), colour], axis=1)

    def copy_vectors(self, descriptors: np.ndarray) -> np.ndarray:
        return l2_normalise(descriptors[:, :16] @ self.head)

    def retrieval_vectors(self, descriptors: np.ndarray) -> np.ndarray:
        part = descriptors[:, 16:] if self.retrieval == "colour" else descriptors[:, :16]
        return l2_normalise(part - (128.0 if self.retrieval == "colour" else 0.0))

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self.copy_vectors(self.describe(images))


def _photo(path: Path, colour: tuple[int, int, int], pattern: int) -> Path:
    """A flat colour with a bright square at one of several places (the layout)."""
    img = Image.new("RGB", (96, 96), colour)
    x, y = (pattern % 3) * 30, (pattern // 3) * 30
    img.paste((255, 255, 255) if sum(colour) < 380 else (0, 0, 0), (x, y, x + 30, y + 30))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=95)
    return path


def _library(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    # Same layout, different colours; and same colour, different layouts.
    _photo(lib / "red_a.jpg", (200, 30, 30), 0)
    _photo(lib / "red_b.jpg", (205, 35, 25), 8)
    _photo(lib / "blue_a.jpg", (30, 30, 200), 0)
    _photo(lib / "green_c.jpg", (30, 190, 40), 4)
    return lib


def _index(library: Library, lib: Path):
    indexer = library.indexer(batch_size=2)
    for _ in indexer.run([str(lib)]):
        pass
    return indexer.summary


def test_similar_ranks_by_the_retrieval_vector_and_duplicates_by_the_copy_vector(tmp_path: Path) -> None:
    lib = _library(tmp_path)
    with Library(tmp_path / "data", DescribingFake()) as library:
        _index(library, lib)
        hits = library.similar(str(lib / "red_a.jpg"), k=3)
        # By colour, the other red photo comes first although its layout differs...
        assert Path(hits[0].row.path).name == "red_b.jpg"
        # ...while the copy index ranks the blue photo with the same layout first.
        index = library.index()
        row = library.catalog.row_for_path(str(lib / "red_a.jpg"))
        vector = library.catalog.embedding_for_path(row.path, library.embedder.model_id)
        ids, _ = index.query_vector(vector, 2)
        assert Path(library.catalog.rows([int(ids[1])])[0].path).name == "blue_a.jpg"


def test_a_new_head_remakes_copy_vectors_from_stored_descriptors_without_decoding(tmp_path: Path) -> None:
    lib = _library(tmp_path)
    with Library(tmp_path / "data", DescribingFake(head_seed=0)) as library:
        first = _index(library, lib)
        assert first.decoded == 4
        before = library.catalog.embeddings(library.embedder.model_id)[1]
    fake = DescribingFake(head_seed=1)
    with Library(tmp_path / "data", fake) as library:
        again = _index(library, lib)
        assert (again.decoded, again.rederived, again.unchanged) == (0, 4, 0)
        assert fake.described == 0  # no photo went through the model
        ids, after = library.catalog.embeddings(fake.model_id)
        assert len(ids) == 4 and not np.allclose(before, after)
        assert len(library.index()) == 4
        third = _index(library, lib)
        assert (third.unchanged, third.rederived) == (4, 0)


def test_a_new_retrieval_vector_rebuilds_only_the_retrieval_index(tmp_path: Path) -> None:
    lib = _library(tmp_path)
    with Library(tmp_path / "data", DescribingFake()) as library:
        _index(library, lib)
        copy_manifest = library.store.manifest_path.read_text()
    fake = DescribingFake(retrieval="layout")
    with Library(tmp_path / "data", fake) as library:
        summary = _index(library, lib)
        assert summary.unchanged == 4 and summary.index_rebuilt and fake.described == 0
        assert library.store.manifest_path.read_text() == copy_manifest  # duplicates' index untouched
        hits = library.similar(str(lib / "red_a.jpg"), k=1)
        assert Path(hits[0].row.path).name == "blue_a.jpg"  # now by layout


def test_cli_similar_answers_several_queries_with_one_model(capsys, tmp_path: Path) -> None:
    lib = _library(tmp_path)
    outside = _photo(tmp_path / "outside" / "red_q.jpg", (198, 32, 28), 2)
    broken = tmp_path / "outside" / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    data = str(tmp_path / "data")
    made: list[DescribingFake] = []

    def factory() -> DescribingFake:
        made.append(DescribingFake())
        return made[-1]

    assert main(["index", str(lib), "--data-dir", data, "--json"], embedder_factory=factory) == 0
    capsys.readouterr()
    code = main(["similar", str(outside), str(lib / "blue_a.jpg"), "-k", "2", "--data-dir", data, "--json"],
                embedder_factory=factory)
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(made) == 2  # one embedder for both queries
    first, second = out["queries"]
    assert first["query"] == str(outside) and Path(first["results"][0]["path"]).name.startswith("red_")
    assert second["query"] == str(lib / "blue_a.jpg")
    assert all(r["path"] != second["query"] for r in second["results"])  # never itself
    assert made[-1].described == 1  # the indexed query used its stored descriptor

    code = main(["similar", str(broken), str(outside), "--data-dir", data, "--json"], embedder_factory=factory)
    out = json.loads(capsys.readouterr().out)
    assert code == 2
    assert "error" in out["queries"][0] and out["queries"][1]["results"]


def test_describe_paths_batches_the_model_and_reports_unreadable_photos(tmp_path: Path) -> None:
    lib = _library(tmp_path)
    outside = [_photo(tmp_path / "q" / f"q{n}.jpg", (40 * n, 90, 200 - 30 * n), n) for n in range(5)]
    broken = tmp_path / "q" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really")
    fake = DescribingFake()
    calls: list[int] = []
    inner = fake.describe
    fake.describe = lambda images: calls.append(len(images)) or inner(images)  # type: ignore[method-assign]
    with Library(tmp_path / "data", fake) as library:
        _index(library, lib)
        calls.clear()
        found = library.describe_paths([str(p) for p in outside[:3]] + [str(broken), str(lib / "red_a.jpg"),
                                       *map(str, outside[3:])], batch=2)
    assert calls == [2, 2, 1]  # 5 decoded photos in batches of 2; the indexed one from the catalog
    assert [type(f).__name__ for f in found] == ["ndarray"] * 3 + ["DecodeError"] + ["ndarray"] * 3
    assert np.allclose(found[0], DescribingFake().describe(np.stack([_pixels(outside[0])]))[0])


def _pixels(path: Path) -> np.ndarray:
    from imgfinder.core.decoder import decode_for_model

    return decode_for_model(str(path), 64).pixels
