"""EXIF facts (date taken, camera, lens, exposure, place) are read at index time from the
header the indexer opens anyway, stored in the catalog, kept incremental, used by the burst
detection instead of re-reading files, and exported with the groups."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from burst_scenes import burst_library
from conftest import FakeEmbedder, small_copy
from format_samples import CAMERA_TAKEN, camera_jpeg
from imgfinder import cli
from imgfinder.core import group_kind, indexer
from imgfinder.core.duplicates import DEFAULT_THRESHOLD
from imgfinder.core.export import groups_json, photo_infos
from imgfinder.core.library import Library
from imgfinder.core.metadata import read_metadata

TAKEN = CAMERA_TAKEN


def with_exif(src: Path, dst: Path, model: str = "X-T3", gps: bool = True, taken: str = TAKEN) -> Path:
    """A small copy of ``src`` carrying a camera's EXIF: date, camera, lens, exposure and place."""
    return camera_jpeg(src, dst, model=model, gps=gps, taken=taken)


def index(lib: Library, folder: Path):
    ix = lib.indexer(batch_size=4, workers=2)
    for _ in ix.run([str(folder)]):
        pass
    return ix.summary


@pytest.fixture
def exif_folder(tmp_path: Path, photo_paths: list[Path]) -> Path:
    lib = tmp_path / "lib"
    with_exif(photo_paths[0], lib / "fuji.jpg")
    with_exif(photo_paths[1], lib / "indoors.jpg", model="X100V", gps=False)
    small_copy(photo_paths[2], lib / "plain.jpg")  # no EXIF at all
    (lib / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a photo")
    return lib


def _infos(lib: Library) -> dict[str, object]:
    rows = lib.catalog.rows()
    stored = lib.catalog.photo_infos(r.id for r in rows)
    return {os.path.basename(r.path): stored.get(r.id) for r in rows}


def test_index_stores_the_facts_read_from_the_header(library: Library, exif_folder: Path) -> None:
    summary = index(library, exif_folder)
    assert (summary.added, summary.failed) == (3, 1)
    (exif_folder / "fuji_copy.jpg").write_bytes((exif_folder / "fuji.jpg").read_bytes())
    assert index(library, exif_folder).reused == 1  # identical bytes: hashed, not decoded
    infos = _infos(library)
    fuji = infos["fuji.jpg"]
    assert fuji.camera == "FUJIFILM X-T3" and fuji.lens == "XF35mmF1.4 R" and fuji.format == "JPEG"
    assert fuji.taken == "2023-07-14 18:42:07 +02:00" and fuji.exposure == "1/250 s · f/2.8 · ISO 400 · 35 mm"
    assert fuji.location == "48.8584° N, 2.2945° E"
    # What is stored is what reading the file says (the file's facts, its size and dimensions).
    assert fuji == read_metadata(fuji.path)
    assert infos["fuji_copy.jpg"].camera == "FUJIFILM X-T3"  # not decoded, still read
    assert infos["indoors.jpg"].model == "X100V" and infos["indoors.jpg"].location is None
    plain = infos["plain.jpg"]
    assert plain is not None and plain.date_taken is None and plain.camera is None  # read, nothing found
    assert infos["broken.jpg"] is None


def test_rescans_read_only_what_changed(library: Library, exif_folder: Path, monkeypatch: pytest.MonkeyPatch,
                                        photo_paths: list[Path]) -> None:
    index(library, exif_folder)
    reads: list[str] = []
    real = indexer.image_info
    monkeypatch.setattr(indexer, "image_info", lambda img, path, size=None: reads.append(path) or real(img, path, size))
    again = index(library, exif_folder)
    assert (again.unchanged, len(again.known_unreadable)) == (3, 1) and reads == []  # broken.jpg: known
    changed = with_exif(photo_paths[3], exif_folder / "indoors.jpg", model="X-Pro3", gps=False)
    os.utime(changed, ns=(1, 1_000_000_000))
    again = index(library, exif_folder)
    assert again.updated == 1 and reads == [str(changed)]
    assert _infos(library)["indoors.jpg"].model == "X-Pro3"


def test_a_resumed_run_keeps_or_rereads_the_facts(tmp_path: Path, exif_folder: Path) -> None:
    """A run stopped after the facts were committed, before any embedding: the next run
    finishes the rows and every photo ends with its facts."""

    class Broken(FakeEmbedder):
        def embed(self, images: np.ndarray) -> np.ndarray:
            raise RuntimeError("the model failed to load")

    with Library(tmp_path / "data", Broken()) as lib, pytest.raises(RuntimeError):
        index(lib, exif_folder)
    with Library(tmp_path / "data", FakeEmbedder()) as lib:
        assert any(i is not None for i in _infos(lib).values())  # committed before the model failed
        summary = index(lib, exif_folder)
        assert summary.resumed >= 1
        infos = _infos(lib)
        assert infos["fuji.jpg"].model == "X-T3"
        assert infos["indoors.jpg"].model == "X100V" and infos["plain.jpg"] is not None


def _kinds(groups) -> dict[frozenset, str]:
    return {frozenset(Path(m.row.path).stem for m in g.members): g.kind for g in groups}


def test_burst_detection_uses_the_stored_dates(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bursts = burst_library(tmp_path / "bursts")
    index(library, tmp_path / "bursts")
    reads: list[str] = []
    real = group_kind.read_metadata
    monkeypatch.setattr(group_kind, "read_metadata", lambda path: reads.append(path) or real(path))
    stored = _kinds(library.duplicate_finder().groups(DEFAULT_THRESHOLD))
    assert reads == []  # no file was opened for a capture time
    assert stored[frozenset({"s2_shot1", "s2_shot2", "s2_shot3"})] == "shots"
    assert stored[frozenset({"s3_shot1", "s3_shot2"})] == "shots"
    assert stored[frozenset({"s1_shot1", "s1_copy"})] == "copies"
    # Rows indexed before the catalog kept facts: the files are read, with the same result.
    with sqlite3.connect(library.data_dir / "catalog.sqlite3") as db:
        db.execute("DELETE FROM photo_meta")
    fallback = _kinds(library.duplicate_finder().groups(DEFAULT_THRESHOLD))
    assert fallback == stored
    assert reads and set(reads) <= {str(p) for p in bursts.values()}


def test_groups_json_carries_each_file_s_facts(library: Library, exif_folder: Path, capsys) -> None:
    (exif_folder / "fuji_copy.jpg").write_bytes((exif_folder / "fuji.jpg").read_bytes())
    index(library, exif_folder)
    groups = library.duplicate_finder().groups(DEFAULT_THRESHOLD)
    exact = next(g for g in groups if g.kind == "exact")
    out = groups_json([exact], DEFAULT_THRESHOLD, [], library.catalog)
    files = out["groups"][0]["files"]
    assert {Path(f["path"]).name for f in files} == {"fuji.jpg", "fuji_copy.jpg"}
    for f in files:
        exif = f["exif"]
        assert exif["date_taken"] == "2023-07-14 18:42:07" and exif["date_offset"] == "+02:00"
        assert exif["camera"] == "FUJIFILM X-T3" and exif["lens_model"] == "XF35mmF1.4 R"
        assert exif["exposure_time"] == pytest.approx(0.004) and exif["iso"] == 400
        assert exif["latitude"] == pytest.approx(48.8584, abs=1e-4) and exif["exposure"].startswith("1/250 s")
    json.dumps(out)  # plain JSON types only
    assert "exif" not in groups_json([exact], DEFAULT_THRESHOLD)["groups"][0]["files"][0]
    # A row without stored facts (indexed before schema 5) has its file's header read.
    with sqlite3.connect(library.data_dir / "catalog.sqlite3") as db:
        db.execute("DELETE FROM photo_meta")
    again = photo_infos(library.catalog, [m.row for m in exact.members])
    assert {i.model for i in again.values()} == {"X-T3"}
    # The command line says the same.
    code = cli.main(["duplicates", "--json", "--quiet", "--data-dir", str(library.data_dir)],
                    embedder_factory=lambda: library.embedder)
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    fuji = next(f for g in printed["groups"] for f in g["files"] if f["path"].endswith("fuji.jpg"))
    assert fuji["exif"]["model"] == "X-T3" and fuji["exif"]["longitude"] == pytest.approx(2.2945, abs=1e-4)
